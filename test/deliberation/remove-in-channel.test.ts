import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Scope } from '../../src/domain/scope.js';
import {
  CHANNEL,
  type Harness,
  MODERATOR,
  postOpinions,
  replier,
  roundInCritique,
  SCOPE,
  startHarness,
  startRound,
  until,
} from '../support/harness.js';

/**
 * A reply deleted without its thread named (Slack's message_deleted without
 * previous_message): it is removed from the round it was recorded in, whatever that
 * round's phase, and the channel's open rounds are asked for it besides. Message ids here
 * must not collide with the console platform's own (m1, m2, ...).
 */
describe('removing a reply found by its channel alone', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.stop();
  });

  const opinionsOf = async (roundId: string, scope: Scope = SCOPE) =>
    (await h.runtime.store.contributions.list(scope, roundId, 'opinion', 0)).map(
      (o) => o.participantId,
    );
  const removeInChannel = (messageId: string, scope: Scope = SCOPE) =>
    h.runtime.service.removeReplyInChannel({ scope, channelId: CHANNEL, messageId });

  it("removes it from the open round that holds it, and from no other round's, channel's or the bot's messages", async () => {
    const a = await startRound(h, 'First question?');
    const b = await startRound(h, 'Second question?');
    await replier(h, a.thread.messageId)('x1', 'U1', 'in A', 1);
    await replier(h, b.thread.messageId)('x2', 'U2', 'in B', 2);

    const removed = await h.runtime.service.removeReplyInChannel({
      scope: SCOPE,
      channelId: CHANNEL,
      messageId: 'x1',
    });
    expect(removed).toMatchObject({ status: 'removed', roundId: a.round.id });
    expect(await opinionsOf(a.round.id)).toEqual([]);
    expect(await opinionsOf(b.round.id)).toEqual(['U2']);

    const question = await h.runtime.service.removeReplyInChannel({
      scope: SCOPE,
      channelId: CHANNEL,
      messageId: b.thread.messageId,
    });
    expect(question.status).toBe('ignored');
    const elsewhere = await h.runtime.service.removeReplyInChannel({
      scope: SCOPE,
      channelId: 'C2',
      messageId: 'x2',
    });
    expect(elsewhere.status).toBe('ignored');
    expect(await opinionsOf(b.round.id)).toEqual(['U2']);

    // The deleted id stays deleted: a late copy of it is not taken, in either round.
    const late = await replier(h, b.thread.messageId)('x1', 'U3', 'the same id again', 3);
    expect(late.status).toBe('ignored');
    expect(await opinionsOf(b.round.id)).toEqual(['U2']);
  });

  it('removes an opinion and a critique from a round that has finished, and one from a cancelled round', async () => {
    const { service, store } = h.runtime;
    const { round, thread, target, at } = await roundInCritique(h);
    const critique = await replier(h, thread.messageId)('k-ben', 'ben', 'It forgets support.', at);
    expect(critique).toMatchObject({ status: 'recorded', kind: 'critique' });
    await service.finish(target, MODERATOR);
    expect((await store.rounds.require(SCOPE, round.id)).phase).toBe('closed');
    expect(await store.rounds.openInChannel(SCOPE, CHANNEL)).toEqual([]);

    expect(await removeInChannel('o-ben')).toEqual({
      status: 'removed',
      kind: 'opinion',
      roundId: round.id,
      notice: null,
    });
    expect(await opinionsOf(round.id)).toEqual(['ana', 'cai', 'dee']);
    expect(await removeInChannel('k-ben')).toMatchObject({
      status: 'removed',
      kind: 'critique',
      roundId: round.id,
    });
    expect(await store.contributions.list(SCOPE, round.id, 'critique', 1)).toEqual([]);
    // As removeReply would: deleted for good, so a second deletion finds nothing to remove.
    expect(await store.contributions.locate(SCOPE, round.id, 'o-ben')).toBe('deleted');
    expect(await removeInChannel('o-ben')).toMatchObject({ status: 'ignored', roundId: round.id });

    const cancelled = await startRound(h, 'Another question?');
    await replier(h, cancelled.thread.messageId)('x-late', 'eve', 'Mine.', at + 1);
    await service.cancel({ ...target, roundId: cancelled.round.id }, MODERATOR);
    expect(await removeInChannel('x-late')).toMatchObject({
      status: 'removed',
      roundId: cancelled.round.id,
    });
    expect(await opinionsOf(cancelled.round.id)).toEqual([]);
  });

  it("never removes another workspace's reply of the same channel and message id", async () => {
    const other: Scope = { platform: SCOPE.platform, workspaceId: 'W2' };
    const { service } = h.runtime;
    const finished = await startRound(h);
    await postOpinions(h, finished.thread.messageId, { ana: 'Here, in one.', ben: 'Also here.' });
    const target = { scope: SCOPE, channelId: CHANNEL, roundId: finished.round.id };
    await service.close(target, MODERATOR);
    await h.platform.waitFor('statement', finished.round.id);
    await service.finish(target, MODERATOR);

    // Workspace two: an open round in "the same" channel, with a reply of the same id.
    const open = await service.start({
      scope: other,
      channelId: CHANNEL,
      actor: MODERATOR,
      question: 'Elsewhere?',
    });
    const question = await until(
      async () => (await h.runtime.store.rounds.require(other, open.id)).questionRef,
    );
    await service.reply({
      scope: other,
      channelId: CHANNEL,
      threadRootId: question.messageId,
      messageId: 'o-ana',
      userId: 'ana',
      text: 'Said in workspace two.',
      at: 1,
    });

    expect(await removeInChannel('o-ana', other)).toMatchObject({
      status: 'removed',
      roundId: open.id,
    });
    expect(await opinionsOf(open.id, other)).toEqual([]);
    expect(await opinionsOf(finished.round.id)).toEqual(['ana', 'ben']);
    // A workspace with no such reply at all finds nothing.
    const third: Scope = { platform: SCOPE.platform, workspaceId: 'W3' };
    expect(await removeInChannel('o-ben', third)).toMatchObject({ status: 'ignored' });
    expect(await opinionsOf(finished.round.id)).toEqual(['ana', 'ben']);

    expect(await removeInChannel('o-ana')).toMatchObject({
      status: 'removed',
      roundId: finished.round.id,
    });
    expect(await opinionsOf(finished.round.id)).toEqual(['ben']);
  });

  it('finds a reply recorded before its round was remembered among the open rounds', async () => {
    const { round, thread } = await startRound(h);
    await replier(h, thread.messageId)('x-old', 'U1', 'Written by an earlier version.', 1);
    await replier(h, thread.messageId)('x-new', 'U2', 'Written by this one.', 2);
    expect(await h.runtime.store.contributions.roundOf(SCOPE, CHANNEL, 'x-old')).toBe(round.id);
    // Data an earlier version wrote has no entry in the channel's reply rounds.
    const key = `${h.prefix}:${SCOPE.platform}.${SCOPE.workspaceId}:channel:${CHANNEL}:reply-rounds`;
    expect(await h.redis.hdel(key, 'x-old')).toBe(1);
    expect(await h.runtime.store.contributions.roundOf(SCOPE, CHANNEL, 'x-old')).toBeNull();

    expect(await removeInChannel('x-old')).toMatchObject({ status: 'removed', roundId: round.id });
    expect(await opinionsOf(round.id)).toEqual(['U2']);
  });
});
