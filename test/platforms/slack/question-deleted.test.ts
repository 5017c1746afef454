import { afterEach, describe, expect, it } from 'vitest';
import {
  CHANNEL,
  deleted,
  deletedWithoutThread,
  message,
  opinions,
  SCOPE,
  type Stack,
  startRound,
  startStack,
  until,
} from './support.js';

const QUESTION = 'Should our team adopt a four-day week?';

/** The bot's question as Slack lists it: the root of the round's thread. */
function questionMessage(s: Stack, questionTs: string, replies = 0): Record<string, unknown> {
  return {
    type: 'message',
    channel: CHANNEL,
    user: s.fake.botUserId,
    bot_id: s.fake.botId,
    text: `Question: ${QUESTION}`,
    ts: questionTs,
    ...(replies > 0 && { thread_ts: questionTs, reply_count: replies }),
  };
}

/** A root with replies, deleted: Slack keeps it as a tombstone, and the thread goes on. */
function tombstoned(s: Stack, questionTs: string, replies: number): Record<string, unknown> {
  const eventTs = s.ts();
  return {
    type: 'message',
    subtype: 'message_changed',
    hidden: true,
    channel: CHANNEL,
    ts: eventTs,
    event_ts: eventTs,
    channel_type: 'channel',
    message: {
      type: 'message',
      subtype: 'tombstone',
      text: 'This message was deleted.',
      user: 'USLACKBOT',
      hidden: true,
      ts: questionTs,
      thread_ts: questionTs,
      reply_count: replies,
    },
    previous_message: questionMessage(s, questionTs, replies),
  };
}

const cancelNotices = (s: Stack, roundId: string) =>
  s.fake.calls.filter(
    (c) =>
      c.method === 'chat.postMessage' &&
      c.args.thread_ts === undefined &&
      String(c.args.text).startsWith(`The thread of round \`${roundId}\``),
  );

/**
 * A workspace admin deletes the bot's question. With no reply under it, Slack deletes it
 * and its thread: nobody can reply any more. The round used to stay open on nothing, its
 * close refused for want of opinions, and nobody was told why the thread had vanished.
 */
describe('Slack: a round’s question is deleted', () => {
  let s: Stack;
  afterEach(async () => {
    await s?.stop();
  });

  it('with no reply under it, cancels the round and tells the channel once', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    await s.event(deleted(s, questionMessage(s, questionTs)));
    await until(async () => cancelNotices(s, round.id).length > 0);
    expect(String(cancelNotices(s, round.id)[0]?.args.text)).toBe(
      `The thread of round \`${round.id}\` (“${QUESTION}”) was deleted, so the round is cancelled. Start a new one with \`/consensus start\`.`,
    );
    expect((await s.runtime.store.rounds.require(SCOPE, round.id)).phase).toBe('cancelled');
    // Reported again (Slack retries): told once.
    await s.event(deleted(s, questionMessage(s, questionTs)));
    await s.settle();
    expect(cancelNotices(s, round.id)).toHaveLength(1);
  }, 20_000);

  it('quotes a question that holds mention syntax inertly: nobody is pinged, no channel link', async () => {
    s = await startStack();
    // Typed literally into the command: Slack sends `<` as `&lt;`, the bot stores `<`.
    const { round, questionTs } = await startRound(
      s,
      'start Lunch? &lt;@U0VICTIM&gt; &lt;#C0SECRET|announcements&gt;',
    );
    expect(round.question).toContain('<@U0VICTIM>');
    await s.event(deleted(s, questionMessage(s, questionTs)));
    await until(async () => cancelNotices(s, round.id).length > 0);
    const text = String(cancelNotices(s, round.id)[0]?.args.text);
    expect(text).not.toMatch(/<@U0VICTIM>|<#C0SECRET/);
    // It still reads as the member wrote it, escaped for mrkdwn.
    expect(text.replaceAll('\u200B', '')).toContain(
      '(“Lunch? &lt;@U0VICTIM&gt; &lt;#C0SECRET|announcements&gt;”)',
    );
  }, 20_000);

  it('is recognised when Slack leaves out previous_message', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    await s.event(deletedWithoutThread(s, questionTs));
    await until(async () => cancelNotices(s, round.id).length > 0);
    expect((await s.runtime.store.rounds.require(SCOPE, round.id)).phase).toBe('cancelled');
  }, 20_000);

  it('with replies, leaves a tombstone and the round goes on; the tombstone deleted ends it', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    await s.event(message(s, 'U001', 'A four-day week would reduce burnout.', questionTs));
    await s.settle();
    await s.event(tombstoned(s, questionTs, 1));
    await s.event(message(s, 'U002', 'Customers expect us five days a week.', questionTs));
    await s.settle();
    expect((await s.runtime.store.rounds.require(SCOPE, round.id)).phase).toBe('collecting');
    expect(await opinions(s, round.id)).toHaveLength(2);
    expect(cancelNotices(s, round.id)).toEqual([]);
    // A root with replies still listed (no tombstone yet) is not a thread gone either.
    await s.event(deleted(s, questionMessage(s, questionTs, 2)));
    await s.settle();
    expect((await s.runtime.store.rounds.require(SCOPE, round.id)).phase).toBe('collecting');

    // Every reply deleted, then the tombstone itself, as Slack does: the thread is gone.
    // (Its reply count may still read 1: a tombstone's deletion ends the thread regardless.)
    const tombstone = (tombstoned(s, questionTs, 1).message ?? {}) as Record<string, unknown>;
    await s.event(deleted(s, { channel: CHANNEL, ...tombstone }));
    await until(async () => cancelNotices(s, round.id).length > 0);
    expect((await s.runtime.store.rounds.require(SCOPE, round.id)).phase).toBe('cancelled');
  }, 20_000);

  it('leaves a finished round, and any other deleted message, alone', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    // A member's own message in the channel, and one of the bot's that is no question.
    const own = { type: 'message', channel: CHANNEL, user: 'U001', text: 'hi', ts: s.ts() };
    await s.event(deleted(s, own));
    await s.event(deleted(s, { ...questionMessage(s, s.ts()), text: 'Something else' }));
    await s.settle();
    expect((await s.runtime.store.rounds.require(SCOPE, round.id)).phase).toBe('collecting');
    await s.command('UMOD', 'cancel');
    await until(
      async () => (await s.runtime.store.rounds.require(SCOPE, round.id)).phase === 'cancelled',
    );
    // The cancel's own word in the thread, posted after the move.
    await s.fake.waitFor(
      (c) => c.method === 'chat.postMessage' && String(c.args.text).includes('was cancelled by'),
    );
    const before = s.fake.calls.length;
    await s.event(deleted(s, questionMessage(s, questionTs)));
    await s.settle();
    expect(cancelNotices(s, round.id)).toEqual([]);
    expect(s.fake.calls.slice(before).filter((c) => c.method === 'chat.postMessage')).toEqual([]);
  }, 20_000);
});
