import { PermissionsBitField } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { BOT_PERMISSIONS } from '../../../src/platforms/discord/client.js';
import {
  cai,
  MOD,
  moderator,
  opinions,
  roundWithOpinions,
  settle,
  snowflake,
  startWorld,
  until,
  type World,
} from './support.js';

const QUESTION = 'Should our team adopt a four-day week?';

/**
 * An admin deletes the channel a round lives in. Its thread goes with it, Discord sends
 * CHANNEL_DELETE (and no THREAD_DELETE), and the channel cannot be told anything. The round
 * used to stay open until a close, a whole pipeline run later, and then nobody was told.
 */
describe('a round whose channel was deleted', () => {
  let world: World | undefined;
  afterEach(async () => {
    await world?.stop();
  });

  it('is cancelled at CHANNEL_DELETE and its starter is told by direct message; a round elsewhere goes on', async () => {
    const other = { id: snowflake(), name: 'elsewhere' };
    world = await startWorld({
      fake: { channels: [{ id: snowflake(), name: 'general' }, other] },
    });
    const { fake, runtime, scope } = world;
    const { round } = await roundWithOpinions(world);
    const start = fake.command(
      'start',
      { question: 'Where should the offsite be?' },
      { ...moderator, channelId: other.id },
    );
    const started = /Round `([^`]+)` started/.exec(
      String((await fake.answered(start)).original?.content),
    )?.[1];
    expect(started).toBeDefined();

    fake.deleteChannel(round.channelId);
    await until(
      async () => (await runtime.store.rounds.require(scope, round.id)).phase === 'cancelled',
    );
    expect((await runtime.store.rounds.require(scope, round.id)).deadline).toBeNull();
    await until(() => fake.directMessagesTo(MOD.id).length > 0);
    expect(fake.directMessagesTo(MOD.id)).toEqual([
      `Round \`${round.id}\` (“${QUESTION}”) in <#${round.channelId}> is cancelled: the bot can no longer post in that channel (it was archived or deleted, or the bot was removed from it). Start a new one with \`/consensus start\` in a channel the bot is in.`,
    ]);
    // Nothing was tried in the deleted channel: it cannot answer.
    expect(
      fake
        .requested('POST', new RegExp(`^/channels/${round.channelId}/messages$`))
        .filter((r) => r.status !== 200),
    ).toEqual([]);
    expect(
      world.log.lines.filter((l) => l.message === 'the round’s channel is gone; round cancelled'),
    ).toHaveLength(1);
    // The round in the other channel was not touched.
    const elsewhere = await runtime.store.rounds.require(scope, started as string);
    expect(elsewhere.phase).toBe('collecting');
  }, 30_000);

  it('is cancelled all the same when its starter takes no direct messages, and that is logged', async () => {
    world = await startWorld();
    const { fake, runtime, scope } = world;
    const { round } = await roundWithOpinions(world);
    fake.closedDms.add(MOD.id);
    fake.deleteChannel(round.channelId);
    await until(
      async () => (await runtime.store.rounds.require(scope, round.id)).phase === 'cancelled',
    );
    const refused = (l: { message: string }) =>
      l.message === 'could not tell the member who started the round that it was cancelled';
    await until(() => (world as World).log.lines.some(refused));
    expect(fake.directMessagesTo(MOD.id)).toEqual([]);
    // The refusal is Discord's, named in the log line.
    expect(JSON.stringify(world.log.lines.filter(refused))).toContain(
      'Cannot send messages to this user',
    );
  }, 30_000);

  it('stays open when the channel is only hidden from the bot, and its starter is told once', async () => {
    world = await startWorld();
    const { fake, runtime, scope } = world;
    const { round, threadId } = await roundWithOpinions(world);
    const giveBack = fake.hideChannel(round.channelId);
    await until(() => fake.directMessagesTo(MOD.id).length > 0);
    expect(fake.directMessagesTo(MOD.id)).toEqual([
      `The bot can no longer see <#${round.channelId}>, where round \`${round.id}\` (“${QUESTION}”) is still open: its View Channel permission there was taken away. Once a server admin gives it back, the bot reads what was said meanwhile; until then nothing can be posted there.`,
    ]);
    // Reported again: nobody is told twice.
    fake.hideChannel(round.channelId);
    await (world as World).discord.idle();
    await new Promise((r) => setTimeout(r, 200));
    expect(fake.directMessagesTo(MOD.id)).toHaveLength(1);
    expect((await runtime.store.rounds.require(scope, round.id)).phase).toBe('collecting');
    // Said while the bot could not see the channel, then read once it can again.
    fake.say(threadId, cai, 'Only with a trial first.');
    expect(await opinions(world, round.id)).toHaveLength(2);
    giveBack();
    await until(async () => (await opinions(world as World, round.id)).length === 3);
  }, 30_000);

  it('cancels nothing when Discord still shows the channel a CHANNEL_DELETE named', async () => {
    world = await startWorld();
    const { fake, runtime, scope } = world;
    const { round } = await roundWithOpinions(world);
    // The event alone (a stale cache's, say): Discord's API still answers for the channel.
    const channel = fake.channels.get(round.channelId);
    if (!channel) throw new Error('no channel');
    fake.dispatch('CHANNEL_DELETE', channel);
    await until(
      () => fake.requested('GET', new RegExp(`^/channels/${round.channelId}$`)).length > 0 || null,
    );
    // discord.js dropped the channel from its cache, so settle()'s marker would not show.
    await world.discord.idle();
    expect((await runtime.store.rounds.require(scope, round.id)).phase).toBe('collecting');
    expect(fake.directMessagesTo(MOD.id)).toEqual([]);
    expect(fake.requested('POST', /^\/users\/@me\/channels$/)).toEqual([]);
  }, 30_000);

  it('tells the starter once when an overwrite takes a permission a round needs, and reads back when View Channel returns', async () => {
    // The bot's role has what its invite asks for (not Administrator, which overwrites cannot limit).
    const permissions = new PermissionsBitField([...BOT_PERMISSIONS]).bitfield.toString();
    const botRole = { id: snowflake(), name: 'Consensus', permissions };
    world = await startWorld({ fake: { roles: [botRole], botRoles: [botRole.id] } });
    const { fake, runtime, scope } = world;
    const { round, threadId } = await roundWithOpinions(world);
    const deny = (bits: string) => [{ id: fake.bot.id, type: 1, allow: '0', deny: bits }];
    // An overwrite that takes nothing a round needs (Create Public Threads: 1 << 35) says nothing.
    fake.setOverwrites(round.channelId, deny(String(2 ** 35)));
    await settle(world);
    expect(fake.directMessagesTo(MOD.id)).toEqual([]);
    // Add Reactions (64) taken away: the poll could not be put up.
    fake.setOverwrites(round.channelId, deny('64'));
    await until(() => fake.directMessagesTo(MOD.id).length > 0);
    expect(fake.directMessagesTo(MOD.id)).toEqual([
      `The bot lost permissions a round needs in <#${round.channelId}>, where round \`${round.id}\` (“${QUESTION}”) is still open: AddReactions. Until a server admin gives them back (to its role, or in the channel's permissions), the round's messages cannot be posted there.`,
    ]);
    expect((await runtime.store.rounds.require(scope, round.id)).phase).toBe('collecting');
    // View Channel taken too, then everything given back: what was said meanwhile is read.
    fake.setOverwrites(round.channelId, deny(String(64 + 1024)));
    fake.say(threadId, cai, 'Only with a trial first.');
    await (world as World).discord.idle();
    expect(await opinions(world as World, round.id)).toHaveLength(2);
    fake.setOverwrites(round.channelId, []);
    await until(async () => (await opinions(world as World, round.id)).length === 3);
  }, 30_000);
});
