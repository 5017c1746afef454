import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LIMITS } from '../../../src/domain/limits.js';
import {
  ana,
  ben,
  cai,
  moderator,
  opinions,
  settle,
  startRound,
  startWorld,
  until,
  type World,
} from './support.js';

/** Closes the round and waits for the polling phase. */
async function closeToPoll(world: World, roundId: string): Promise<void> {
  await world.fake.answered(world.fake.command('close', {}, moderator));
  // The round is 'polling' before the publisher has posted the statement: wait for the
  // poll's three reactions too, so that nothing of the close lands after this returns.
  await world.fake.waitForRequest('PUT', /^\/channels\/\d+\/messages\/\d+\/reactions\//, 3);
  await until(
    async () =>
      (await world.runtime.store.rounds.require(world.scope, roundId)).phase === 'polling' || null,
  );
}

/** What the bot posted in the thread (its notices, statements and so on). */
const threadPosts = (world: World, threadId: string) =>
  world.fake
    .requested('POST', new RegExp(`^/channels/${threadId}/messages$`))
    .map((r) => String((r.body as { content?: unknown }).content ?? ''));

describe('Discord: which messages are opinions', () => {
  let world: World;
  beforeEach(async () => {
    world = await startWorld();
  });
  afterEach(async () => {
    await world.stop();
  });

  it("counts only messages in the round's thread: not the parent channel, not other threads", async () => {
    const { fake } = world;
    const { round, threadId, questionId } = await startRound(world);
    // Another thread in the same channel, opened by a member on their own message.
    const other = fake.say(fake.channelId, cai, 'Side discussion');
    const otherThread = fake.openThread(fake.channelId, String(other.id), 'side');
    // A reply to the question, but in the channel: on Discord that is not the thread.
    fake.say(fake.channelId, ana, 'In the channel, not in the thread.', { replyTo: questionId });
    fake.say(otherThread, ana, 'In another thread.');
    fake.say(threadId, ben, 'In the round thread: this one counts.');
    await settle(world);
    expect(await opinions(world, round.id)).toEqual([
      expect.objectContaining({
        participantId: ben.id,
        text: 'In the round thread: this one counts.',
      }),
    ]);
  });

  it('counts a reply sent the moment the round’s thread opens, before the bot hears back', async () => {
    const { fake } = world;
    fake.onThreadStarted = (threadId) => {
      fake.say(threadId, ana, 'Yes, if Friday support is covered by a rota.');
    };
    const { round } = await startRound(world);
    fake.onThreadStarted = null;
    await settle(world);
    expect(await opinions(world, round.id)).toEqual([
      expect.objectContaining({
        participantId: ana.id,
        text: 'Yes, if Friday support is covered by a rota.',
      }),
    ]);
  });

  it('edits replace and deletions remove opinions, in the order they happened', async () => {
    const { fake } = world;
    const { round, threadId } = await startRound(world);
    const first = String(fake.say(threadId, ana, 'Four days is too few.').id);
    const second = String(fake.say(threadId, ana, 'Also, customers would notice.').id);
    const third = String(fake.say(threadId, ben, 'Let us try it.').id);
    // Back to back, without waiting: handling must keep the order.
    fake.edit(first, 'Four days could work with a rota.');
    fake.remove(second);
    fake.edit(third, '');
    await settle(world);
    expect(await opinions(world, round.id)).toEqual([
      expect.objectContaining({ participantId: ana.id, text: 'Four days could work with a rota.' }),
    ]);
    // A message created and deleted at once never counts, however fast the two arrive.
    const gone = String(fake.say(threadId, cai, 'Oops, wrong thread.').id);
    fake.remove(gone);
    await settle(world);
    expect((await opinions(world, round.id)).map((o) => o.participantId)).toEqual([ana.id]);
  });

  it('takes a reply of mentions alone for no opinion, and reads mentions in one by name', async () => {
    const { fake } = world;
    const { round, threadId } = await startRound(world);
    fake.say(threadId, ben, 'Friday support needs a rota.');
    fake.say(threadId, ana, `<@${ben.id}> <@!${cai.id}> @here`);
    const pinged = String(fake.say(threadId, cai, `<@${ana.id}> ?!`).id);
    await settle(world);
    expect((await opinions(world, round.id)).map((o) => o.participantId)).toEqual([ben.id]);
    // An edit that says something makes the ping an opinion, its mention read by name.
    fake.edit(pinged, `I agree with <@${ben.id}> <:rota:123456789012345678>`);
    await settle(world);
    expect(await opinions(world, round.id)).toContainEqual(
      expect.objectContaining({ participantId: cai.id, text: 'I agree with @ben :rota:' }),
    );
  });

  it('counts a reply of zero-width characters or emoji alone for nothing, and says why in the thread', async () => {
    const { fake } = world;
    const { round, threadId } = await startRound(world);
    const before = threadPosts(world, threadId).length;
    fake.say(threadId, ana, '\u200b\u200b\u2060');
    fake.say(threadId, ben, '👍🏽 🎉 <:rota:123456789012345678>');
    fake.say(threadId, cai, 'Yes 👍, with a trial first.');
    await settle(world);
    expect((await opinions(world, round.id)).map((o) => [o.participantId, o.text])).toEqual([
      [cai.id, 'Yes 👍, with a trial first.'],
    ]);
    expect(threadPosts(world, threadId).slice(before)).toEqual([
      'Your reply has no words in it, so it does not count as an opinion.',
      'Your reply has no words in it, so it does not count as an opinion.',
    ]);
  });

  it('removes the opinions of messages deleted in bulk, and only those', async () => {
    const { fake } = world;
    const { round, threadId } = await startRound(world);
    const spam = [
      String(fake.say(threadId, ana, 'Buy cheap watches.').id),
      String(fake.say(threadId, ben, 'Buy cheap watches too.').id),
    ];
    fake.say(threadId, cai, 'Four days, as a trial.');
    fake.say(threadId, ana, 'Sorry, my account was hacked: yes.');
    await settle(world);
    expect(await opinions(world, round.id)).toHaveLength(3);
    fake.removeMany(threadId, spam);
    await settle(world);
    expect(
      Object.fromEntries((await opinions(world, round.id)).map((o) => [o.participantId, o.text])),
    ).toEqual({
      [cai.id]: 'Four days, as a trial.',
      [ana.id]: 'Sorry, my account was hacked: yes.',
    });
  });

  it('reads an edit that arrives without content for an uncached message by fetching it', async () => {
    const { fake } = world;
    const { round, threadId } = await startRound(world);
    const id = String(fake.say(threadId, ana, 'Four days is too few.').id);
    await settle(world);
    // The client no longer holds the message (evicted, or from before a restart).
    const thread = world.discord.client.channels.cache.get(threadId);
    if (!thread?.isTextBased()) throw new Error('thread not cached');
    thread.messages.cache.delete(id);
    fake.edit(id, 'Four days could work with a rota.', { withoutContent: true });
    await settle(world);
    expect(
      fake.requested('GET', new RegExp(`^/channels/${threadId}/messages/${id}$`)),
    ).toHaveLength(1);
    expect(await opinions(world, round.id)).toEqual([
      expect.objectContaining({ participantId: ana.id, text: 'Four days could work with a rota.' }),
    ]);
  });

  it('ignores bots and webhooks, including its own posts in the thread', async () => {
    const { fake } = world;
    const { round, threadId } = await startRound(world);
    fake.say(
      threadId,
      { id: '1200000000000000001', username: 'other-bot', bot: true },
      'I am a bot.',
    );
    fake.say(threadId, { id: '1200000000000000002', username: 'Announcer' }, 'Via a webhook.', {
      webhookId: '1200000000000000003',
    });
    fake.say(threadId, ana, 'A person.');
    await settle(world);
    expect((await opinions(world, round.id)).map((o) => o.participantId)).toEqual([ana.id]);
    fake.say(threadId, ana, 'x'.repeat(LIMITS.opinionMaxChars));
    await settle(world);
    // The over-long opinion earns the member a reply: a bot post in the thread, which the
    // gateway echoes back to the bot, and which counts for nothing.
    const notices = fake
      .requested('POST', new RegExp(`^/channels/${threadId}/messages$`))
      .map(
        (r) =>
          r.body as { content: string; message_reference?: unknown; allowed_mentions?: unknown },
      );
    expect(notices).toHaveLength(1);
    // The reply pings its author; its text names nobody (it may be an anonymous round).
    expect(notices[0]?.content).toMatch(/^Your opinion is \d+ characters/);
    expect(notices[0]?.message_reference).toBeDefined();
    expect(notices[0]?.allowed_mentions).toEqual({ parse: [], replied_user: true });
    expect((await opinions(world, round.id)).map((o) => o.participantId)).toEqual([ana.id]);
    await until(async () => (await opinions(world, round.id))[0]?.truncated || null);
  });

  it('counts every edit of a message, not only its first: each edit is its own event', async () => {
    const { fake } = world;
    const { round, threadId } = await startRound(world);
    const id = String(fake.say(threadId, ana, 'Four days is too few.').id);
    await settle(world);
    fake.edit(id, 'Four days could work with a rota.');
    await settle(world);
    fake.edit(id, 'Four days could work with a rota and a trial.');
    await settle(world);
    expect(await opinions(world, round.id)).toEqual([
      expect.objectContaining({
        participantId: ana.id,
        text: 'Four days could work with a rota and a trial.',
      }),
    ]);
  });

  it('keeps the newest edit when an older edit of the message arrives after it', async () => {
    const { fake } = world;
    const { round, threadId } = await startRound(world);
    const id = String(fake.say(threadId, ana, 'Four days is too few.').id);
    await settle(world);
    const olderAt = Date.now();
    await new Promise((r) => setTimeout(r, 20));
    fake.edit(id, 'Newer: four days could work with a rota.');
    await settle(world);
    // The first edit's event, delivered late (or read by a fetch that came back late).
    fake.edit(id, 'Older: four days, maybe.', { editedAt: olderAt });
    await settle(world);
    expect(await opinions(world, round.id)).toEqual([
      expect.objectContaining({
        participantId: ana.id,
        text: 'Newer: four days could work with a rota.',
      }),
    ]);
  });

  it('does not take a link preview or a pin for an edit, even after the phase closed', async () => {
    const { fake } = world;
    const { round, threadId } = await startRound(world);
    const anaId = String(
      fake.say(threadId, ana, 'Four days, as in https://example.org/four-days').id,
    );
    fake.say(threadId, ben, 'Five days; customers expect us.');
    await settle(world);
    await closeToPoll(world, round.id);
    await settle(world);
    const before = threadPosts(world, threadId).length;
    const stored = await opinions(world, round.id);
    fake.unfurl(anaId, {
      embeds: [{ type: 'link', url: 'https://example.org/four-days', title: 'Four days' }],
    });
    fake.unfurl(anaId, { pinned: true });
    await settle(world);
    expect(threadPosts(world, threadId).slice(before)).toEqual([]);
    expect(await opinions(world, round.id)).toEqual(stored);
    // A real edit now is told it does not count, which the two above were not.
    fake.edit(anaId, 'Four days, with a rota.');
    await settle(world);
    expect(threadPosts(world, threadId).slice(before)).toEqual([
      expect.stringMatching(/^Your edit was not counted/),
    ]);
  });

  it('removes an opinion deleted after the round moved on to its poll, and says nothing', async () => {
    const { fake } = world;
    const { round, threadId } = await startRound(world);
    const anaReply = String(fake.say(threadId, ana, 'Four days, with a rota.').id);
    fake.say(threadId, ben, 'Five days; customers expect us.');
    await settle(world);
    await closeToPoll(world, round.id);
    await settle(world);
    const before = threadPosts(world, threadId).length;
    // A member taking their words back after the statement was written: they leave the
    // record (export, results) all the same, and nobody is told anything.
    fake.remove(anaReply);
    await settle(world);
    expect((await opinions(world, round.id)).map((o) => o.participantId)).toEqual([ben.id]);
    expect(threadPosts(world, threadId).slice(before)).toEqual([]);
  });

  it('tells a member who keeps replying after the phase closed only once', async () => {
    const { fake } = world;
    const { round, threadId } = await startRound(world);
    fake.say(threadId, ana, 'Four days, with a rota.');
    fake.say(threadId, ben, 'Five days; customers expect us.');
    await settle(world);
    await closeToPoll(world, round.id);
    await settle(world);
    const before = threadPosts(world, threadId).length;
    fake.say(threadId, cai, 'Sorry I am late: four days.');
    fake.say(threadId, cai, 'And a trial first.');
    await settle(world);
    fake.say(threadId, cai, 'Did anyone read this?');
    await settle(world);
    const notices = threadPosts(world, threadId).slice(before);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/replies are not counted now/);
    expect((await opinions(world, round.id)).map((o) => o.participantId)).toEqual([ana.id, ben.id]);
  });
});
