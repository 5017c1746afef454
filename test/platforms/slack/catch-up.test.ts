import { afterEach, describe, expect, it } from 'vitest';
import type { DeliberationService } from '../../../src/deliberation/service.js';
import type { ThreadMessage } from '../../fakes/slack.js';
import {
  CHANNEL,
  closeToPoll,
  message,
  opinions,
  reaction,
  SCOPE,
  type Stack,
  startRound,
  startStack,
  until,
} from './support.js';

/** Opinions as [member, text], by member: what the store holds for the round. */
async function opinionsOf(s: Stack, roundId: string): Promise<string[][]> {
  return (await opinions(s, roundId))
    .map((o) => [o.participantId, o.text])
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
}

/** A round with U001's and U002's opinions, given live, closed to its poll. */
async function pollOfTwo(s: Stack) {
  const { round, questionTs } = await startRound(s);
  const thread = openThread(s, questionTs);
  await liveReply(s, thread, 'U001', 'Yes, it would reduce burnout.');
  await liveReply(s, thread, 'U002', 'No, customers need us on Fridays.');
  await s.settle();
  return { round, ...(await closeToPoll(s)) };
}

/** The poll's ratings as [member, option], by member. */
async function ratingsOf(s: Stack, roundId: string): Promise<string[][]> {
  const poll = await s.runtime.store.polls.poll(SCOPE, roundId, 1);
  if (!poll) throw new Error('no poll');
  return (await s.runtime.store.polls.ratings(SCOPE, poll))
    .map((r) => [r.participantId, r.optionKey])
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
}

/** The service, whose `method` meets a Redis-side error on its first call only. */
function failingOnce(real: DeliberationService, method: 'reply' | 'react'): DeliberationService {
  const inner = real[method].bind(real) as (event: never) => Promise<unknown>;
  let failed = false;
  real[method] = (async (event: never) => {
    if (!failed) {
      failed = true;
      throw new Error("OOM command not allowed when used memory > 'maxmemory'.");
    }
    return inner(event);
  }) as never;
  return real;
}

/** A thread under a question in the fake Slack: what conversations.replies lists. */
interface Thread {
  root: string;
  messages: ThreadMessage[];
}

function openThread(s: Stack, questionTs: string): Thread {
  const thread = { root: questionTs, messages: [] };
  s.fake.threads.set(`${CHANNEL} ${questionTs}`, thread.messages);
  return thread;
}

/** A member's reply, delivered live to the bot and kept in the fake's thread, as Slack does. */
async function liveReply(s: Stack, thread: Thread, user: string, text: string) {
  const event = message(s, user, text, thread.root);
  await s.event(event);
  thread.messages.push({ ts: String(event.ts), user, text });
}

describe('Slack catch-up after the bot was down', () => {
  let s: Stack;
  afterEach(async () => {
    await s?.stop();
  });

  it('rereads an open round’s thread at start: new replies, edits and deletions count, bots do not', async () => {
    // Two messages a page: the thread's seven at restart (its root included) take four.
    s = await startStack({ catchUpLimits: { pageSize: 2 } });
    const { round, questionTs } = await startRound(s);
    const thread = openThread(s, questionTs);
    const replies = thread.messages;
    await liveReply(s, thread, 'U001', 'A four-day week would reduce burnout.');
    await liveReply(s, thread, 'U002', 'Customers expect us five days a week.');
    await liveReply(s, thread, 'U003', 'Only as a three-month trial.');
    await s.settle();
    expect(await opinionsOf(s, round.id)).toEqual([
      ['U001', 'A four-day week would reduce burnout.'],
      ['U002', 'Customers expect us five days a week.'],
      ['U003', 'Only as a three-month trial.'],
    ]);
    expect(s.fake.calls.filter((c) => c.method === 'conversations.replies')).toEqual([]);

    await s.restart(() => {
      const edit = replies.find((m) => m.user === 'U002');
      if (!edit) throw new Error('no reply of U002');
      edit.text = 'Customers expect us five days a week, so Fridays need a rota.';
      edit.edited = { user: 'U002', ts: s.ts() };
      replies.splice(
        replies.findIndex((m) => m.user === 'U003'),
        1,
      );
      replies.push(
        { ts: s.ts(), user: 'U004', text: 'Try it for a quarter and measure.' },
        // None of these is a member's opinion.
        { ts: s.ts(), user: 'UOTHERBOT', bot_id: 'B0002', text: 'Reminder: lunch at noon.' },
        { ts: s.ts(), user: 'USLACKBOT', text: 'Slackbot auto-response.' },
        { ts: s.ts(), user: 'U005', subtype: 'channel_join', text: '<@U005> has joined' },
      );
    });

    await until(async () => {
      const now = await opinionsOf(s, round.id);
      return now.length === 3 && now.some(([user]) => user === 'U004') ? now : null;
    });
    await s.settle();
    expect(await opinionsOf(s, round.id)).toEqual([
      ['U001', 'A four-day week would reduce burnout.'],
      ['U002', 'Customers expect us five days a week, so Fridays need a rota.'],
      ['U004', 'Try it for a quarter and measure.'],
    ]);
    const reads = s.fake.ok('conversations.replies').map((c) => c.args);
    expect(reads).toEqual([
      { channel: CHANNEL, ts: questionTs, oldest: questionTs, limit: '2' },
      { channel: CHANNEL, ts: questionTs, oldest: questionTs, limit: '2', cursor: 'page-2' },
      { channel: CHANNEL, ts: questionTs, oldest: questionTs, limit: '2', cursor: 'page-4' },
      { channel: CHANNEL, ts: questionTs, oldest: questionTs, limit: '2', cursor: 'page-6' },
    ]);
    expect(s.log.lines).toContainEqual(
      expect.objectContaining({
        message: 'caught up on a round',
        fields: expect.objectContaining({
          roundId: round.id,
          // U001's unchanged reply is rewritten as it was (the store counts that an edit).
          replies: { recorded: 1, edited: 2 },
          repliesRemoved: 1,
          capped: false,
        }),
      }),
    );
  });

  it('reads back an edit made in the second its reply was posted, which Slack dates before the reply', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    const thread = openThread(s, questionTs);
    const second = s.ts().split('.')[0];
    const ts = `${second}.734200`;
    await s.event({ ...message(s, 'U001', 'Frist draft.', questionTs), ts, event_ts: ts });
    thread.messages.push({ ts, user: 'U001', text: 'Frist draft.' });
    await s.settle();
    await s.restart(() => {
      const reply = thread.messages[0];
      if (!reply) throw new Error('no reply');
      reply.text = 'First draft.';
      reply.edited = { user: 'U001', ts: `${second}.000000` };
    });
    await until(async () => {
      const now = await opinionsOf(s, round.id);
      return now[0]?.[1] === 'First draft.' ? now : null;
    });
  });

  it('removes nothing when the page cap stops the reread short', async () => {
    s = await startStack({ catchUpLimits: { pageSize: 2, replyPages: 1 } });
    const { round, questionTs } = await startRound(s);
    const thread = openThread(s, questionTs);
    const replies = thread.messages;
    await liveReply(s, thread, 'U001', 'First.');
    await liveReply(s, thread, 'U002', 'Second.');
    await s.settle();
    await s.restart(() => {
      // U002's reply is gone from Slack, but lies beyond the one page the bot may read.
      replies.splice(1, 1, { ts: s.ts(), user: 'U003', text: 'Third.' });
    });
    await until(async () =>
      s.log.lines.find((l) => l.message.startsWith('catch-up read the most thread replies')),
    );
    await s.settle();
    expect(await opinionsOf(s, round.id)).toEqual([
      ['U001', 'First.'],
      ['U002', 'Second.'],
    ]);
  });

  it('reconciles an open poll’s reactions at start, leaving out the bot’s and other emoji', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    const thread = openThread(s, questionTs);
    await liveReply(s, thread, 'U001', 'Yes, it would reduce burnout.');
    await liveReply(s, thread, 'U002', 'No, customers need us on Fridays.');
    await liveReply(s, thread, 'U003', 'Maybe, as a trial.');
    await s.settle();
    const { statementTs, onStatement } = await closeToPoll(s);
    const live = async (user: string, name: string) => {
      // At the wall clock's time, as Slack stamps events: the catch-up's removals happen now.
      const eventTs = (Date.now() / 1000).toFixed(6);
      await s.event({ ...reaction(s, user, name, statementTs), event_ts: eventTs });
      onStatement.find((r) => r.name === name)?.users.push(user);
    };
    await live('U001', '+1');
    await live('U002', '-1');
    await live('U006', 'shrug');
    await s.settle();
    const ratings = () => ratingsOf(s, round.id);
    expect(await ratings()).toEqual([
      ['U001', 'agree'],
      ['U002', 'disagree'],
      ['U006', 'unsure'],
    ]);

    await s.restart(() => {
      const [up, unsure, down] = onStatement;
      if (!up || !unsure || !down) throw new Error('no poll reactions');
      up.users.push('U003', 'U004');
      down.users.splice(down.users.indexOf('U002'), 1);
      // Slack cut this list short (count 40, two users listed): U006 missing from it proves
      // nothing, so their rating stays.
      unsure.users = [s.fake.botUserId, 'U007'];
      unsure.count = 40;
      // Another app's bot user reacted while we were away: not a member's rating.
      s.fake.users.set('UREACJI', { is_bot: true });
      onStatement.push(
        { name: '+1::skin-tone-3', users: ['U005', 'UREACJI'] },
        { name: 'tada', users: ['U002', s.fake.botUserId] },
        { name: 'heart', users: [s.fake.botUserId] },
      );
    });

    const expected = [
      ['U001', 'agree'],
      ['U003', 'agree'],
      ['U004', 'agree'],
      ['U005', 'agree'],
      ['U006', 'unsure'],
      ['U007', 'unsure'],
    ];
    await until(async () => JSON.stringify(await ratings()) === JSON.stringify(expected));
    await s.settle();
    expect(await ratings()).toEqual(expected);
    expect(s.fake.ok('reactions.get').map((c) => c.args)).toEqual([
      { channel: CHANNEL, timestamp: statementTs, full: 'true' },
    ]);
    const stored = await s.runtime.service.pollReactions(SCOPE, CHANNEL, statementTs);
    expect(stored?.reactions.map((r) => [r.userId, r.variant]).sort()).toEqual([
      ['U001', '+1'],
      ['U003', '+1'],
      ['U004', '+1'],
      ['U005', '+1::skin-tone-3'],
      ['U006', 'shrug'],
      ['U007', 'shrug'],
    ]);
  });

  it('lets a reaction taken back while the catch-up reads the poll stay taken back', async () => {
    s = await startStack();
    const { round, statementTs, onStatement } = await pollOfTwo(s);
    // U003 reacted while the bot was down; Slack's answer to the catch-up lists it, read
    // before U003 took it back, and that removal reaches the bot while the answer is on its way.
    const release = s.fake.hold((c) => c.method === 'reactions.get');
    await s.restart(() => {
      onStatement.find((r) => r.name === '+1')?.users.push('U003');
    });
    await s.fake.waitFor((c) => c.method === 'reactions.get');
    await new Promise((r) => setTimeout(r, 20));
    const eventTs = (Date.now() / 1000).toFixed(6);
    await s.event({ ...reaction(s, 'U003', '+1', statementTs, true), event_ts: eventTs });
    await new Promise((r) => setTimeout(r, 20));
    release();
    await until(async () => s.log.lines.some((l) => l.message === 'caught up on a round'));
    await s.settle();
    expect(await ratingsOf(s, round.id)).toEqual([]);
  });

  it('leaves a poll finished while the catch-up reads it as its results say, quietly', async () => {
    s = await startStack();
    const { round, onStatement } = await pollOfTwo(s);
    // U003's reaction while the bot was down is read back only after the moderator finished.
    const release = s.fake.hold((c) => c.method === 'reactions.get');
    await s.restart(() => {
      onStatement.find((r) => r.name === '+1')?.users.push('U003');
    });
    await s.fake.waitFor((c) => c.method === 'reactions.get');
    await s.command('UMOD', 'finish');
    await until(
      async () => (await s.runtime.store.rounds.require(SCOPE, round.id)).phase === 'closed',
    );
    release();
    await until(async () => s.log.lines.some((l) => l.message === 'caught up on a round'));
    await s.settle();
    expect(await ratingsOf(s, round.id)).toEqual([]);
    expect(s.log.lines.filter((l) => l.message.startsWith('could not catch up'))).toEqual([]);
  });

  it('logs a failing thread read and goes on serving events', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    const thread = openThread(s, questionTs);
    const replies = thread.messages;
    await liveReply(s, thread, 'U001', 'Before the restart.');
    await s.settle();
    s.fake.fail('conversations.replies', 'missing_scope');
    await s.restart(() => {
      replies.push({ ts: s.ts(), user: 'U002', text: 'While the bot was down.' });
    });
    const warning = await until(async () =>
      s.log.lines.find((l) => l.message === 'could not catch up on the replies of a round'),
    );
    expect(warning).toMatchObject({
      level: 'warn',
      fields: { roundId: round.id, error: 'missing_scope' },
    });
    await liveReply(s, thread, 'U003', 'After the restart.');
    await s.settle();
    expect(await opinionsOf(s, round.id)).toEqual([
      ['U001', 'Before the restart.'],
      ['U003', 'After the restart.'],
    ]);
  });

  it('rereads the open rounds soon after an event it failed to handle, which Slack will not resend', async () => {
    s = await startStack({
      catchUpLimits: { afterFailureMs: 100 },
      // The first reply meets a Redis-side error once; Slack has its ack already.
      service: (real) => failingOnce(real, 'reply'),
    });
    const { round, questionTs } = await startRound(s);
    const thread = openThread(s, questionTs);
    await liveReply(s, thread, 'U001', 'A four-day week would reduce burnout.');
    await liveReply(s, thread, 'U002', 'Customers expect us five days a week.');
    await s.settle();
    expect(await opinionsOf(s, round.id)).toEqual([
      ['U002', 'Customers expect us five days a week.'],
    ]);
    await until(async () => (await opinions(s, round.id)).length === 2);
    expect(await opinionsOf(s, round.id)).toEqual([
      ['U001', 'A four-day week would reduce burnout.'],
      ['U002', 'Customers expect us five days a week.'],
    ]);
    expect(
      s.log.lines.filter(
        (l) => l.message === 'a Slack event could not be handled; the open rounds will be reread',
      ),
    ).toHaveLength(1);
  });

  it('rereads the poll soon after a reaction it failed to handle, which Slack will not resend', async () => {
    s = await startStack({
      catchUpLimits: { afterFailureMs: 100 },
      // The first reaction meets a Redis-side error once; Slack has its ack already.
      service: (real) => failingOnce(real, 'react'),
    });
    const { round, statementTs, onStatement } = await pollOfTwo(s);
    for (const [user, name] of [
      ['U001', '+1'],
      ['U002', '-1'],
    ] as const) {
      await s.event({
        ...reaction(s, user, name, statementTs),
        event_ts: (Date.now() / 1000).toFixed(6),
      });
      onStatement.find((r) => r.name === name)?.users.push(user);
    }
    const ratings = async () => {
      const poll = await s.runtime.store.polls.poll(SCOPE, round.id, 1);
      return poll
        ? (await s.runtime.store.polls.ratings(SCOPE, poll)).map((r) => r.participantId)
        : [];
    };
    await until(async () => (await ratings()).length === 2, 5_000);
    expect((await ratings()).sort()).toEqual(['U001', 'U002']);
  });

  it('rereads again later when Redis is still away at the reread', async () => {
    // The first reply meets the outage, and so does the first reread after it.
    let replyFailed = false;
    let rereadFailed = false;
    s = await startStack({
      catchUpLimits: { afterFailureMs: 100 },
      service: (real) => {
        const reply = real.reply.bind(real);
        const recentOpenRounds = real.recentOpenRounds.bind(real);
        real.reply = async (event) => {
          if (replyFailed) return reply(event);
          replyFailed = true;
          throw new Error('Connection is closed.');
        };
        real.recentOpenRounds = async (scope, limit) => {
          if (!replyFailed || rereadFailed) return recentOpenRounds(scope, limit);
          rereadFailed = true;
          throw new Error('Connection is closed.');
        };
        return real;
      },
    });
    const { round, questionTs } = await startRound(s);
    const thread = openThread(s, questionTs);
    await liveReply(s, thread, 'U001', 'A four-day week would reduce burnout.');
    await s.settle();
    await until(async () => (await opinions(s, round.id)).length === 1, 5_000);
    expect(s.log.lines.map((l) => l.message)).toEqual(
      expect.arrayContaining([
        'a Slack event could not be handled; the open rounds will be reread',
        'the open rounds will be reread again',
      ]),
    );
  });
});
