import { afterEach, describe, expect, it } from 'vitest';
import {
  ana,
  ben,
  cai,
  opinions,
  settle,
  startRound,
  startWorld,
  until,
  type World,
} from './support.js';

/**
 * An admin kicks the bot mid-round and invites it back. While it is out Discord sends it
 * none of the server's events, but the round's thread stays and members keep replying:
 * those replies used to be lost for good, as a re-invite starts no new gateway session
 * and so no catch-up.
 */
describe('a bot kicked from the server mid-round and invited back', () => {
  let world: World | undefined;
  afterEach(async () => {
    await world?.stop();
  });

  for (const outage of [false, true]) {
    it(`reads back the replies members wrote while it was out (${outage ? 'the server was unavailable' : 'kicked'})`, async () => {
      world = await startWorld();
      const { fake } = world;
      const { round, threadId } = await startRound(world);
      fake.say(threadId, ana, 'Four days, with a rota for Fridays.');
      await settle(world);
      fake.kickBot({ outage });
      const present = () =>
        world?.discord.client.guilds.cache.get(fake.guildId)?.available ?? false;
      await until(() => !present());
      fake.say(threadId, ben, 'Five days; customers expect us.');
      fake.say(threadId, cai, 'Four days in summer only.');
      fake.reinviteBot();
      await until(present);
      await settle(world);
      const authors = async () =>
        (await opinions(world as World, round.id)).map((o) => o.participantId).sort();
      await until(async () => (await authors()).length === 3 || null, 10_000).catch(() => null);
      expect(await authors()).toEqual([ana.id, ben.id, cai.id].sort());
      expect(world.log.lines.filter((l) => l.message === 'caught up on a round')).toHaveLength(1);
    }, 30_000);
  }

  it('is not caught up twice at a session start, when its guilds become available', async () => {
    world = await startWorld();
    const { round, threadId } = await startRound(world);
    world.fake.say(threadId, ana, 'Four days, with a rota for Fridays.');
    await settle(world);
    await world.restart();
    await settle(world);
    await until(() => world?.log.lines.some((l) => l.message === 'caught up on a round'));
    await world.discord.idle();
    const caughtUp = world.log.lines.filter((l) => l.message === 'caught up on a round');
    expect(caughtUp.map((l) => (l.fields as { roundId?: string }).roundId)).toEqual([round.id]);
  }, 30_000);
});
