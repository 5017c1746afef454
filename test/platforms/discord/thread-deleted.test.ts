import { afterEach, describe, expect, it } from 'vitest';
import {
  channelPosts,
  contentOf,
  moderator,
  publishIdle,
  roundWithOpinions,
  settle,
  startWorld,
  until,
  type World,
} from './support.js';

/**
 * A moderator deletes a round's thread. Its replies are gone and every post into it gets
 * 404 Unknown Channel: the round used to stay "polling" on a statement nobody could see,
 * each post failing its attempts, and nobody was told.
 */
describe('a round whose thread was deleted', () => {
  let world: World | undefined;
  afterEach(async () => {
    await world?.stop();
  });

  for (const withoutEvent of [false, true]) {
    it(`is cancelled, once, with a word in the channel, and gets no more posts (${withoutEvent ? 'no THREAD_DELETE: at the next post' : 'at THREAD_DELETE'})`, async () => {
      world = await startWorld();
      const { fake, runtime } = world;
      const scope = world.scope;
      const { round, threadId } = await roundWithOpinions(world);
      fake.deleteThread(threadId, { withoutEvent });
      await settle(world);
      const phase = async () => (await runtime.store.rounds.require(scope, round.id)).phase;
      // With the event the round is over before anyone closes it: no model calls are spent.
      if (!withoutEvent) await until(async () => (await phase()) === 'cancelled');

      const close = fake.command('close', {}, moderator);
      await fake.answered(close);
      if (!withoutEvent) expect(contentOf(world, close)).toMatch(/no open round/);
      await until(async () => (await phase()) === 'cancelled', 15_000);
      expect((await runtime.store.rounds.require(scope, round.id)).deadline).toBeNull();
      const notices = () =>
        channelPosts(world as World).filter((text) => text.includes('was deleted'));
      await until(() => notices().length > 0);
      // Whatever was queued for the thread meanwhile is dropped, not retried into it.
      await until(() => publishIdle(world as World), 15_000);
      const intoThread = () =>
        fake.requested('POST', new RegExp(`^/channels/${threadId}/messages$`)).length;
      const before = intoThread();
      await new Promise((r) => setTimeout(r, 300));
      expect(intoThread()).toBe(before);
      expect(notices()).toEqual([
        `The thread of round \`${round.id}\` (“Should our team adopt a four-day week?”) was deleted, so the round is cancelled. Start a new one with \`/consensus start\`.`,
      ]);
      expect(
        world.log.lines.filter((l) => l.message === 'the round’s thread is gone; round cancelled'),
      ).toHaveLength(1);
    }, 30_000);
  }
});
