import { afterEach, describe, expect, it } from 'vitest';
import {
  ana,
  ben,
  moderator,
  settle,
  startRound,
  startWorld,
  until,
  type World,
} from './support.js';

/**
 * A server admin takes Send Messages in Threads away from the bot mid-round: every post
 * into the round's thread gets 403, code 50013 Missing Permissions. The statement's job
 * used to spend its attempts and stop there, the round "polling" on a statement nobody
 * saw, and nobody was told.
 */
describe('a round whose thread the bot may no longer post in', () => {
  let world: World | undefined;
  afterEach(async () => {
    await world?.stop();
  });

  it('says in the channel, once, that the statement could not be posted', async () => {
    world = await startWorld();
    const { fake, runtime } = world;
    const { round, threadId } = await startRound(world);
    fake.say(threadId, ana, 'Four days, with a rota for Fridays.');
    fake.say(threadId, ben, 'Five days; customers expect us.');
    await settle(world);
    fake.refuse('POST', new RegExp(`^/channels/${threadId}/messages$`), 50013);

    await fake.answered(fake.command('close', {}, moderator));
    const idle = async () => {
      const c = await runtime.queues.publish.getJobCounts('waiting', 'active', 'delayed');
      return (c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) === 0;
    };
    const notices = () =>
      fake
        .requested('POST', new RegExp(`^/channels/${fake.channelId}/messages$`))
        .filter((r) => r.status === 200)
        .map((r) => String((r.body as { content?: string }).content ?? ''))
        .filter((text) => text.includes('could not be posted'));
    await until(() => notices().length > 0, 20_000);
    await until(idle, 20_000);
    expect(notices()).toEqual([
      `The statement of round \`${round.id}\` (“Should our team adopt a four-day week?”) could not be posted after several tries: the bot may have lost a permission it needs in this channel or its thread. Once a server admin has restored it, a moderator can cancel the round and start it again.`,
    ]);
  }, 40_000);
});
