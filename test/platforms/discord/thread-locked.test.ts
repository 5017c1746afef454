import { afterEach, describe, expect, it } from 'vitest';
import {
  channelPosts,
  moderator,
  publishIdle,
  roundWithOpinions,
  settle,
  startWorld,
  until,
  type World,
} from './support.js';

/**
 * A moderator locks a round's thread mid-round. A bot without Manage Threads cannot post
 * there any more (403, code 50083 "Thread is archived"), however often it retries: the
 * round used to stay "polling" on a statement that was never posted, each post spending
 * its attempts, and nobody was told.
 */
describe('a round whose thread was locked', () => {
  let world: World | undefined;
  afterEach(async () => {
    await world?.stop();
  });

  it('is cancelled, with a word in the channel saying why, and nothing is retried into the thread', async () => {
    world = await startWorld();
    const { fake, runtime } = world;
    const scope = world.scope;
    const { round, threadId } = await roundWithOpinions(world);
    fake.lockThread(threadId);
    await settle(world);

    await fake.answered(fake.command('close', {}, moderator));
    const phase = async () => (await runtime.store.rounds.require(scope, round.id)).phase;
    await until(async () => (await phase()) === 'cancelled', 15_000);
    const notices = () =>
      channelPosts(world as World).filter((text) => text.includes('round is cancelled'));
    await until(() => notices().length > 0);
    expect(notices()).toEqual([
      `The thread of round \`${round.id}\` (“Should our team adopt a four-day week?”) was locked, so nothing more can be posted there and the round is cancelled. Start a new one with \`/consensus start\`.`,
    ]);
    const idle = () => publishIdle(world as World);
    await until(idle, 15_000);
    // Jobs already queued each found it locked once; none is retried into it after that.
    const intoThread = () =>
      fake.requested('POST', new RegExp(`^/channels/${threadId}/messages$`)).length;
    const before = intoThread();
    await new Promise((r) => setTimeout(r, 300));
    expect(intoThread()).toBe(before);
    expect(
      world.log.lines.filter((l) => l.message === 'the round’s thread is gone; round cancelled'),
    ).toHaveLength(1);
  }, 30_000);
});
