import { afterEach, describe, expect, it } from 'vitest';
import {
  CHANNEL,
  click,
  clickTs,
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

/** `--hidden` (not anonymous): buttons, so no tally shows under the statement before the finish. */
describe('a hidden round on Slack', () => {
  let s: Stack;
  afterEach(async () => {
    await s?.stop();
  });

  it('rates with buttons, ignores reactions, and confirms a click without calling it anonymous', async () => {
    s = await startStack();
    const { fake, runtime } = s;
    const { round, questionTs } = await startRound(
      s,
      'start --hidden Should our team adopt a four-day week?',
    );
    expect(round.settings).toMatchObject({ hidden: true, anonymous: false });
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
    await until(async () => runtime.store.messages.slot(SCOPE, round.id, 'statement:1'));
    const blocks = post.args.blocks as {
      type: string;
      block_id?: string;
      text?: { text: string };
      elements?: { value: string }[];
    }[];
    const actions = blocks.find((b) => b.type === 'actions');
    expect(actions?.block_id).toBe('consensus_rate_hidden');
    expect(actions?.elements?.map((e) => e.value)).toEqual(['agree', 'unsure', 'disagree']);
    expect(JSON.stringify(blocks)).toContain(
      'the tally stays hidden until the round is finished; the results then show it, and name the members who rated lowest',
    );
    expect(JSON.stringify(blocks)).not.toContain('anonymous');
    await s.settle();
    expect(fake.ok('reactions.add')).toEqual([]);

    // A reaction would show the tally: it is not a rating.
    await s.event(reaction(s, 'U003', '+1', statementTs));
    const at = { statementTs, questionTs, blockId: 'consensus_rate_hidden' };
    await click(s, 'U001', 'agree', at);
    await click(s, 'U002', 'unsure', at);
    await click(s, 'U002', 'disagree', at); // a new click replaces the rating
    await s.settle();
    const poll = await runtime.store.polls.poll(SCOPE, round.id, 1);
    if (!poll) throw new Error('no poll');
    // Hidden is not anonymous: ratings are stored under the members' own ids.
    expect(
      (await runtime.store.polls.ratings(SCOPE, poll)).map((r) => [r.participantId, r.optionKey]),
    ).toEqual([
      ['U001', 'agree'],
      ['U002', 'disagree'],
    ]);
    const told = fake.ok('chat.postEphemeral').map((c) => c.args);
    expect(told[0]).toEqual({
      channel: CHANNEL,
      user: 'U001',
      thread_ts: questionTs,
      text: 'Your rating: agree. The tally stays hidden until the round is finished; the results then show it, and name the members who rated lowest. Click another button to change it.',
    });
    expect(told.map((t) => t.user)).toEqual(['U001', 'U002', 'U002']);
    for (const t of told) expect(String(t.text)).not.toContain('anonymous');

    // Asked before the finish, the results show counts only.
    await s.command('U005', 'results');
    await s.settle();
    const early = JSON.stringify(fake.calls.filter((c) => c.method === 'respond').at(-1)?.args);
    expect(early).toContain('Approval predicted for 3 members; 2 ratings so far.');
    expect(early).toContain('The results are hidden until the round is finished.');
    expect(early).not.toMatch(/U001|U002|Mean approval/);

    await s.command('UMOD', 'finish');
    const results = await fake.waitFor(
      (c) => c.method === 'chat.postMessage' && String(c.args.text).startsWith('Results'),
    );
    expect(results.args.text).toBe('Results: 2 ratings, mean approval 50%');
    expect(JSON.stringify(results.args.blocks)).toContain(
      'Approval predicted for 3 members, rated by 2',
    );
  });

  /** A hidden round polling on its statement, with the buttons' coordinates. */
  async function toPoll() {
    const { round, questionTs } = await startRound(
      s,
      'start --hidden Should our team adopt a four-day week?',
    );
    for (const [user, text] of Object.entries(OPINIONS)) {
      await s.event(message(s, user, text, questionTs));
    }
    await s.settle();
    await s.command('UMOD', 'close');
    const post = await s.fake.waitFor(
      (c) =>
        c.method === 'chat.postMessage' && String(c.args.text).startsWith('Proposed statement'),
    );
    await until(async () => s.runtime.store.messages.slot(SCOPE, round.id, 'statement:1'));
    await s.settle();
    const poll = await s.runtime.store.polls.poll(SCOPE, round.id, 1);
    if (!poll) throw new Error('no poll');
    const at = {
      statementTs: String(post.response?.ts),
      questionTs,
      blockId: 'consensus_rate_hidden',
    };
    return { round, poll, at };
  }

  it('says a cancelled round’s results stay hidden, rather than wait for a finish that never comes', async () => {
    s = await startStack();
    const { round, at } = await toPoll();
    await click(s, 'U001', 'agree', at);
    await s.settle();
    await s.command('UMOD', `cancel ${round.id}`);
    await until(
      async () => (await s.runtime.store.rounds.require(SCOPE, round.id)).phase === 'cancelled',
    );
    await s.command('U005', `results ${round.id}`);
    await s.settle();
    const answer = s.fake.calls.filter((c) => c.method === 'respond').at(-1)?.args;
    expect(String(answer?.text)).toBe(
      'Results: 1 rating; hidden for good, as the round was cancelled.',
    );
    expect(JSON.stringify(answer?.blocks)).toContain(
      '1 rating so far. The round was cancelled before it finished, so its results stay hidden.',
    );
    expect(JSON.stringify(answer)).not.toMatch(/until the round is finished|Mean approval/);
  });

  it('keeps the later click when two clicks are handled in the other order (action_ts)', async () => {
    s = await startStack();
    const { poll, at } = await toPoll();
    const earlier = clickTs();
    const later = clickTs();
    await click(s, 'U001', 'disagree', at, later);
    await s.settle();
    await click(s, 'U001', 'agree', at, earlier);
    await s.settle();
    expect(
      (await s.runtime.store.polls.ratings(SCOPE, poll)).map((r) => [r.participantId, r.optionKey]),
    ).toEqual([['U001', 'disagree']]);
  });

  it('answers a click on a finished poll, only to the member, and does not count it', async () => {
    s = await startStack();
    const { round, poll, at } = await toPoll();
    await s.command('UMOD', 'finish');
    await until(
      async () => (await s.runtime.store.rounds.require(SCOPE, round.id)).phase === 'closed',
    );
    await s.settle();
    await click(s, 'U002', 'agree', at);
    await s.settle();
    expect(await s.runtime.store.polls.ratings(SCOPE, poll)).toEqual([]);
    expect(s.fake.ok('chat.postEphemeral').map((c) => c.args)).toEqual([
      {
        channel: CHANNEL,
        user: 'U002',
        thread_ts: at.questionTs,
        text: 'This poll is closed; your click was not counted.',
      },
    ]);
  });

  it('tells a member whose click could not be counted (Redis away) to click again, and counts the next one', async () => {
    s = await startStack({
      // The first click meets a Redis-side error once; Slack has its ack already, and a
      // buttons poll's ratings are on no message a reread could find them on.
      service: (real) => {
        const react = real.react.bind(real);
        let failed = false;
        real.react = async (event) => {
          if (event.source === 'button' && !failed) {
            failed = true;
            throw new Error('Connection is closed.');
          }
          return react(event);
        };
        return real;
      },
    });
    const { poll, at } = await toPoll();
    await click(s, 'U001', 'agree', at);
    await s.settle();
    expect(await s.runtime.store.polls.ratings(SCOPE, poll)).toEqual([]);
    expect(s.fake.ok('chat.postEphemeral').map((c) => c.args)).toEqual([
      {
        channel: CHANNEL,
        user: 'U001',
        thread_ts: at.questionTs,
        text: 'Sorry, something went wrong on my side and your click was not counted. Please click again in a moment.',
      },
    ]);
    await click(s, 'U001', 'agree', at);
    await s.settle();
    expect(
      (await s.runtime.store.polls.ratings(SCOPE, poll)).map((r) => [r.participantId, r.optionKey]),
    ).toEqual([['U001', 'agree']]);
  });
});
