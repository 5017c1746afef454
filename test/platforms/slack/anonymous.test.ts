import { afterEach, describe, expect, it } from 'vitest';
import {
  BOT_TOKEN,
  CHANNEL,
  click,
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
const MEMBERS = Object.keys(OPINIONS);

describe('an anonymous round on Slack', () => {
  let s: Stack;
  afterEach(async () => {
    await s?.stop();
  });

  it('rates with buttons, stores no member id with a rating, and names nobody in the results or export', async () => {
    s = await startStack();
    const { fake, runtime } = s;
    const { round, questionTs } = await startRound(
      s,
      'start --anonymous Should our team adopt a four-day week?',
    );
    expect(round.settings.anonymous).toBe(true);
    for (const user of MEMBERS)
      await s.event(message(s, user, OPINIONS[user] as string, questionTs));
    await s.settle();
    await s.command('UMOD', 'close');
    const statementPost = await fake.waitFor(
      (c) =>
        c.method === 'chat.postMessage' && String(c.args.text).startsWith('Proposed statement'),
    );
    const statementTs = String(statementPost.response?.ts);
    const blocks = statementPost.args.blocks as {
      type: string;
      elements?: { action_id: string; value: string }[];
    }[];
    const actions = blocks.find((b) => b.type === 'actions');
    expect(actions?.elements?.map((e) => e.value)).toEqual(['agree', 'unsure', 'disagree']);
    // No reactions to click, and the statement names no member.
    await until(
      async () => (await runtime.store.rounds.require(SCOPE, round.id)).phase === 'polling',
    );
    await s.settle();
    expect(fake.ok('reactions.add')).toEqual([]);
    for (const user of MEMBERS) expect(JSON.stringify(statementPost.args)).not.toContain(user);

    const rate = (user: string, value: string) =>
      click(s, user, value, { statementTs, questionTs, blockId: 'consensus_rate' });
    await rate('U001', 'agree');
    await rate('U002', 'agree');
    await rate('U002', 'disagree'); // changes their mind: one rating each
    await rate('U003', 'unsure');
    // A reaction in an anonymous round is not a rating (it would show who chose what).
    await s.event(reaction(s, 'U003', '+1', statementTs));
    await s.settle();
    const poll = await runtime.store.polls.poll(SCOPE, round.id, 1);
    const ratings = await runtime.store.polls.ratings(SCOPE, poll!);
    expect(ratings.map((r) => r.optionKey).sort()).toEqual(['agree', 'disagree', 'unsure']);
    for (const r of ratings) expect(r.participantId).toMatch(/^anon-[0-9a-f]{16}$/);
    // Each click was answered to the clicking member only.
    const told = await until(async () => {
      const calls = fake.ok('chat.postEphemeral');
      return calls.length >= 4 ? calls : null;
    });
    // Clicks are handled concurrently, so the answers may leave in any order.
    expect(told.map((c) => c.args.user).sort()).toEqual(['U001', 'U002', 'U002', 'U003']);

    await s.command('UMOD', 'finish');
    const resultsPost = await fake.waitFor(
      (c) => c.method === 'chat.postMessage' && String(c.args.text).startsWith('Results'),
    );
    const results = JSON.stringify(resultsPost.args);
    expect(results).toContain(
      'Least served (rated): 1 member at 0%: what would make it work for them?',
    );
    expect(results).toContain('Approval predicted for 3 members, rated by 3');
    for (const user of MEMBERS) expect(results).not.toContain(user);
    expect(results).not.toContain('anon-');

    const exported = await runtime.service.export({
      scope: SCOPE,
      channelId: CHANNEL,
      roundId: round.id,
    });
    const text = JSON.stringify(exported);
    for (const user of [...MEMBERS, 'UMOD']) expect(text).not.toContain(user);
    expect(text).not.toContain('anon-');
    expect(exported.versions[0]?.ratings.map((r) => r.participantId).sort()).toEqual([
      'rater-1',
      'rater-2',
      'rater-3',
    ]);
    expect(exported.opinions.map((o) => o.participantId)).toEqual([
      'member-1',
      'member-2',
      'member-3',
    ]);
    expect(fake.calls.every((c) => c.status === 200)).toBe(true);
    expect(resultsPost.token).toBe(BOT_TOKEN);
  });
  it('counts a click on a statement posted a moment ago, whose link is still being written', async () => {
    s = await startStack();
    const { fake, runtime } = s;
    const { round, questionTs } = await startRound(
      s,
      'start --anonymous Should our team adopt a four-day week?',
    );
    for (const user of MEMBERS)
      await s.event(message(s, user, OPINIONS[user] as string, questionTs));
    await s.settle();
    // The statement's link to its round is written a little after Slack has posted it.
    const messages = runtime.store.messages;
    const link = messages.link.bind(messages);
    messages.link = async (scope, ref, role, slot) => {
      if (role.kind === 'statement') await new Promise((r) => setTimeout(r, 250));
      return link(scope, ref, role, slot);
    };
    await s.command('UMOD', 'close');
    const statementPost = await fake.waitFor(
      (c) =>
        c.method === 'chat.postMessage' &&
        String(c.args.text).startsWith('Proposed statement') &&
        c.response !== undefined,
    );
    const statementTs = String(statementPost.response?.ts);
    expect(await runtime.store.messages.lookup(SCOPE, CHANNEL, statementTs)).toBeNull();
    // A member clicks as soon as the buttons show.
    await click(s, 'U001', 'agree', { statementTs, questionTs, blockId: 'consensus_rate' });
    await s.settle();
    const told = await until(async () => fake.ok('chat.postEphemeral')[0] ?? null);
    expect(told.args).toMatchObject({
      user: 'U001',
      text: expect.stringMatching(/^Your anonymous rating: agree/),
    });
    const poll = await runtime.store.polls.poll(SCOPE, round.id, 1);
    expect((await runtime.store.polls.ratings(SCOPE, poll!)).map((r) => r.optionKey)).toEqual([
      'agree',
    ]);
  });
});
