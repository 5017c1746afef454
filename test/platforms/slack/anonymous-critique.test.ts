import { afterEach, describe, expect, it } from 'vitest';
import {
  CHANNEL,
  click,
  message,
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
/** Critiques but never gave an opinion: the one member the results could be tempted to name. */
const CRITIC = 'U009';
const MEMBERS = [...Object.keys(OPINIONS), CRITIC];

describe('an anonymous round with a critique round, on Slack', () => {
  let s: Stack;
  afterEach(async () => {
    await s?.stop();
  });

  it('puts no member id in any message the bot sent, nor in the export', async () => {
    s = await startStack();
    const { fake, runtime } = s;
    const { round, questionTs } = await startRound(
      s,
      'start --anonymous Should our team adopt a four-day week?',
    );
    for (const [user, text] of Object.entries(OPINIONS)) {
      await s.event(message(s, user, text, questionTs));
    }
    await s.settle();
    const polling = (version: number) =>
      until(async () => {
        const r = await runtime.store.rounds.require(SCOPE, round.id);
        return r.phase === 'polling' && r.version === version;
      });
    await s.command('UMOD', 'close');
    await polling(1);
    await s.command('UMOD', 'critique');
    await fake.waitFor(
      (c) =>
        c.method === 'chat.postMessage' &&
        String(c.args.text).startsWith('What does the statement miss?'),
    );
    await s.event(message(s, CRITIC, 'It forgets the people who work part-time.', questionTs));
    await s.event(message(s, 'U002', 'Nothing about Friday customer support.', questionTs));
    await s.settle();
    await s.command('UMOD', 'close');
    await polling(2);
    const v2 = await runtime.store.polls.poll(SCOPE, round.id, 2);
    const v2Post = await fake.waitFor(
      (c) =>
        c.method === 'chat.postMessage' &&
        JSON.stringify(c.args.blocks).includes('(version 2)') &&
        c.status === 200,
    );
    const v2Ts = String(v2Post.response?.ts);
    // A click counts once the bot has linked the statement message to the round.
    await until(async () => runtime.store.messages.slot(SCOPE, round.id, 'statement:2'));
    if (!v2) throw new Error('version 2 has no poll');
    // The critic's approval was predicted, so the results had an id they could leak.
    expect(Object.keys(v2.predicted)).toHaveLength(4);
    await click(s, CRITIC, 'disagree', {
      statementTs: v2Ts,
      questionTs,
      blockId: 'consensus_rate',
    });
    await s.settle();
    expect(await runtime.store.polls.ratings(SCOPE, v2)).toHaveLength(1);
    await s.command('UMOD', 'finish');
    const results = await fake.waitFor(
      (c) => c.method === 'chat.postMessage' && String(c.args.text).startsWith('Results'),
    );
    await fake.waitFor((c) => c.method === 'files.completeUploadExternal');
    await s.settle();

    // The critic is labelled, by count only.
    expect(JSON.stringify(results.args)).toContain('Critiqued without giving an opinion: 1 member');
    // Every call the bot made: only the addressee of a private reply may be a member id.
    expect(fake.calls.length).toBeGreaterThan(10);
    for (const call of fake.calls) {
      const { user: _addressee, ...content } = call.args;
      const text = JSON.stringify(content);
      for (const id of MEMBERS) expect(text, `${call.method} leaks ${id}`).not.toContain(id);
      expect(text).not.toContain('anon-');
    }
    const exported = JSON.stringify(
      await runtime.service.export({ scope: SCOPE, channelId: CHANNEL, roundId: round.id }),
    );
    expect(exported).toContain('part-time'); // the critiques are in the export ...
    for (const id of [...MEMBERS, 'UMOD']) expect(exported).not.toContain(id); // ... unnamed
    expect(exported).not.toContain('anon-');
  });
});
