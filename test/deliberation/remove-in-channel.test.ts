import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CHANNEL,
  type Harness,
  replier,
  SCOPE,
  startHarness,
  startRound,
} from '../support/harness.js';

/**
 * A reply deleted without its thread named (Slack's message_deleted without
 * previous_message): the channel's open rounds are asked for it. Message ids here must not
 * collide with the console platform's own (m1, m2, ...).
 */
describe('removing a reply found by its channel alone', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.stop();
  });

  const opinionsOf = async (roundId: string) =>
    (await h.runtime.store.contributions.list(SCOPE, roundId, 'opinion', 0)).map(
      (o) => o.participantId,
    );

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
});
