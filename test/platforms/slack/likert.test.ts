import { afterEach, describe, expect, it } from 'vitest';
import {
  CHANNEL,
  message,
  reaction,
  SCOPE,
  type Stack,
  startRound,
  startStack,
  until,
} from './support.js';

const OPINIONS: Record<string, string> = {
  U001: 'Yes. A four-day week would reduce burnout and help us focus on the work that matters most.',
  U002: 'No. Our customers expect us five days a week, and support would suffer without Friday cover.',
  U003: 'Only with a rota that keeps Friday support covered, and as a three-month trial first.',
};
const NUMBERS = ['one', 'two', 'three', 'four', 'five', 'six', 'seven'];

describe('a 7-point (likert7) round on Slack', () => {
  let s: Stack;
  afterEach(async () => {
    await s?.stop();
  });

  it('adds :one: … :seven:, and reads :three: as approval 2/6', async () => {
    s = await startStack();
    const { fake, runtime } = s;
    const { round, questionTs } = await startRound(
      s,
      'start --scale likert7 Should our team adopt a four-day week?',
    );
    expect(round.settings.scale).toBe('likert7');
    for (const [user, text] of Object.entries(OPINIONS)) {
      await s.event(message(s, user, text, questionTs));
    }
    await s.settle();
    await s.command('UMOD', 'close');
    const post = await fake.waitFor(
      (c) =>
        c.method === 'chat.postMessage' && String(c.args.text).startsWith('Proposed statement'),
    );
    const statementTs = String(post.response?.ts);
    await until(async () => fake.ok('reactions.add').length === 7);
    expect(fake.ok('reactions.add').map((c) => c.args)).toEqual(
      NUMBERS.map((name) => ({ channel: CHANNEL, timestamp: statementTs, name })),
    );
    expect(JSON.stringify(post.args.blocks)).toContain(
      // Which end agrees, and which disagrees: "1/7 … 7/7" alone does not say.
      `*Rate it:* ${NUMBERS.map((n, i) => `:${n}: ${i + 1}/7`).join(' · ')} (1/7 = disagree strongly, 7/7 = agree strongly).`,
    );

    await s.event(reaction(s, 'U001', 'three', statementTs));
    await s.event(reaction(s, 'U002', 'seven', statementTs));
    await s.event(reaction(s, 'U003', '+1', statementTs)); // not on this scale
    await s.settle();
    const poll = await runtime.store.polls.poll(SCOPE, round.id, 1);
    if (!poll) throw new Error('no poll');
    expect(
      (await runtime.store.polls.ratings(SCOPE, poll)).map((r) => [
        r.participantId,
        r.optionKey,
        r.approval,
      ]),
    ).toEqual([
      ['U001', '3', 2 / 6],
      ['U002', '7', 1],
    ]);

    await s.command('UMOD', 'finish');
    const results = await fake.waitFor(
      (c) => c.method === 'chat.postMessage' && String(c.args.text).startsWith('Results'),
    );
    // (2/6 + 1) / 2
    expect(results.args.text).toBe('Results: 2 ratings, mean approval 67%');
    const body = JSON.stringify(results.args.blocks);
    expect(body).toContain(':three: 3/7: 1');
    expect(body).toContain(':seven: 7/7: 1');
    expect(body).toContain(':one: 1/7: 0');
  });
});
