import { PermissionFlagsBits, PermissionsBitField } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { BOT_PERMISSIONS } from '../../../src/platforms/discord/client.js';
import {
  cai,
  MOD,
  opinions,
  roundWithOpinions,
  settle,
  snowflake,
  startWorld,
  until,
  type World,
} from './support.js';

const QUESTION = 'Should our team adopt a four-day week?';
const bits = (...flags: bigint[]) => new PermissionsBitField(flags).bitfield.toString();
const INVITED = bits(...BOT_PERMISSIONS);
const withoutReactions = bits(
  ...BOT_PERMISSIONS.filter((p) => p !== PermissionFlagsBits.AddReactions),
);

/** The role a bot invited through its link holds: what the invite asks for. */
const invitedRole = () => ({ id: snowflake(), name: 'Consensus', permissions: INVITED });

/** A channel overwrite that denies the bot one permission. */
const deniedToBot = (botId: string, permission: bigint) => ({
  id: botId,
  type: 1,
  allow: '0',
  deny: String(permission),
});

/**
 * A server admin takes a permission from the bot's role, or takes the role from the bot,
 * rather than through a channel's overwrites. Discord says so with GUILD_ROLE_UPDATE or
 * the bot's own GUILD_MEMBER_UPDATE; before, nothing was noticed until a post failed, a
 * whole pipeline run later, and what members said while the bot could not see the
 * channel was lost.
 */
describe('a round whose bot loses permissions through its roles', () => {
  let world: World | undefined;
  afterEach(async () => {
    await world?.stop();
  });

  it('tells the starter once when a role edit takes what a round needs, and reads back when View Channel returns', async () => {
    const botRole = invitedRole();
    world = await startWorld({ fake: { roles: [botRole], botRoles: [botRole.id] } });
    const { fake, runtime, scope } = world;
    const { round, threadId } = await roundWithOpinions(world);
    // The bot's own role loses Add Reactions: the poll could not be put up.
    fake.setRolePermissions(botRole.id, withoutReactions);
    await until(() => fake.directMessagesTo(MOD.id).length > 0);
    expect(fake.directMessagesTo(MOD.id)).toEqual([
      `The bot lost permissions a round needs in <#${round.channelId}>, where round \`${round.id}\` (“${QUESTION}”) is still open: AddReactions. Until a server admin gives them back (to its role, or in the channel's permissions), the round's messages cannot be posted there.`,
    ]);
    expect((await runtime.store.rounds.require(scope, round.id)).phase).toBe('collecting');
    // View Channel gone from @everyone and the role: the bot sees nothing said meanwhile...
    fake.setRolePermissions(fake.guildId, String(PermissionFlagsBits.SendMessages));
    fake.setRolePermissions(
      botRole.id,
      bits(...BOT_PERMISSIONS.filter((p) => p !== PermissionFlagsBits.ViewChannel)),
    );
    // Not sent to the bot at all (as on Discord), so there is nothing to wait for.
    fake.say(threadId, cai, 'Only with a trial first.');
    await (world as World).discord.idle();
    expect(await opinions(world, round.id)).toHaveLength(2);
    // ...until the role has it again, when the channel's rounds are read back.
    fake.setRolePermissions(botRole.id, INVITED);
    await until(async () => (await opinions(world as World, round.id)).length === 3);
    // Told once in all, however many edits.
    expect(fake.directMessagesTo(MOD.id)).toHaveLength(1);
  }, 30_000);

  it('tells the starter when @everyone, the only role the bot has, loses what a round needs', async () => {
    world = await startWorld({ fake: { botRoles: [] } });
    const { fake } = world;
    fake.setRolePermissions(fake.guildId, INVITED);
    const { round } = await roundWithOpinions(world);
    fake.setRolePermissions(fake.guildId, withoutReactions);
    await until(() => fake.directMessagesTo(MOD.id).length > 0);
    expect(fake.directMessagesTo(MOD.id)[0]).toContain(
      `where round \`${round.id}\` (“${QUESTION}”) is still open: AddReactions.`,
    );
  }, 30_000);

  it('tells the starter when a role the bot held is deleted, and not when another one is', async () => {
    const botRole = invitedRole();
    const otherRole = { id: snowflake(), name: 'Helpers', permissions: INVITED };
    world = await startWorld({ fake: { roles: [botRole, otherRole], botRoles: [botRole.id] } });
    const { fake, runtime, scope } = world;
    const { round } = await roundWithOpinions(world);
    fake.deleteRole(otherRole.id);
    await settle(world);
    expect(fake.directMessagesTo(MOD.id)).toEqual([]);
    // @everyone still gives View Channel and Send Messages; the rest went with the role.
    fake.deleteRole(botRole.id);
    await until(() => fake.directMessagesTo(MOD.id).length > 0);
    expect(fake.directMessagesTo(MOD.id)).toEqual([
      `The bot lost permissions a round needs in <#${round.channelId}>, where round \`${round.id}\` (“${QUESTION}”) is still open: AddReactions, EmbedLinks, ReadMessageHistory, SendMessagesInThreads. Until a server admin gives them back (to its role, or in the channel's permissions), the round's messages cannot be posted there.`,
    ]);
    expect((await runtime.store.rounds.require(scope, round.id)).phase).toBe('collecting');
  }, 30_000);

  it('reads back and tells at once when one role swap gives View Channel and takes another permission', async () => {
    const seeing = { id: snowflake(), name: 'Consensus', permissions: INVITED };
    const swapped = { id: snowflake(), name: 'Staff', permissions: withoutReactions };
    world = await startWorld({ fake: { roles: [seeing, swapped], botRoles: [seeing.id] } });
    const { fake } = world;
    fake.setRolePermissions(fake.guildId, String(PermissionFlagsBits.SendMessages));
    const { round, threadId } = await roundWithOpinions(world);
    fake.setBotRoles([]);
    await until(() => fake.directMessagesTo(MOD.id).length > 0);
    fake.say(threadId, cai, 'Only with a trial first.');
    await (world as World).discord.idle();
    expect(await opinions(world, round.id)).toHaveLength(2);
    fake.setBotRoles([swapped.id]);
    await until(async () => (await opinions(world as World, round.id)).length === 3);
  }, 30_000);

  it("tells the starter when the bot's role is taken from it, and reads back once it is given back", async () => {
    const botRole = invitedRole();
    world = await startWorld({ fake: { roles: [botRole], botRoles: [botRole.id] } });
    const { fake, runtime, scope } = world;
    // @everyone may not see the channel: only the role lets the bot.
    fake.setRolePermissions(fake.guildId, String(PermissionFlagsBits.SendMessages));
    const { round, threadId } = await roundWithOpinions(world);
    expect(fake.directMessagesTo(MOD.id)).toEqual([]);

    fake.setBotRoles([]);
    await until(() => fake.directMessagesTo(MOD.id).length > 0);
    expect(fake.directMessagesTo(MOD.id)).toEqual([
      `The bot can no longer see <#${round.channelId}>, where round \`${round.id}\` (“${QUESTION}”) is still open: its View Channel permission there was taken away. Once a server admin gives it back, the bot reads what was said meanwhile; until then nothing can be posted there.`,
    ]);
    // Not sent to the bot at all (as on Discord), so there is nothing to wait for.
    fake.say(threadId, cai, 'Only with a trial first.');
    await (world as World).discord.idle();
    expect(await opinions(world, round.id)).toHaveLength(2);

    fake.setBotRoles([botRole.id]);
    await until(async () => (await opinions(world as World, round.id)).length === 3);
    expect((await runtime.store.rounds.require(scope, round.id)).phase).toBe('collecting');
  }, 30_000);
  it("follows only the bot's own member updates, not another member's roles changing", async () => {
    const botRole = invitedRole();
    world = await startWorld({ fake: { roles: [botRole], botRoles: [botRole.id] } });
    const { fake } = world;
    // Only the role lets the bot see the channel: judged by another member's earlier roles
    // (none), the bot would seem to have just been given View Channel back.
    fake.setRolePermissions(fake.guildId, String(PermissionFlagsBits.SendMessages));
    const { threadId } = await roundWithOpinions(world);
    fake.say(threadId, cai, 'Only with a trial first.');
    await settle(world);
    const reads = () => fake.requested('GET', new RegExp(`^/channels/${threadId}/messages$`));
    const before = reads().length;
    fake.dispatch('GUILD_MEMBER_UPDATE', {
      guild_id: fake.guildId,
      ...fake.member(cai, [botRole.id]),
    });
    await settle(world);
    expect(reads()).toHaveLength(before);
    expect(fake.directMessagesTo(MOD.id)).toEqual([]);
  }, 30_000);
});

/**
 * A permission taken while the bot had no session sends it nothing it would ever see: the
 * role edit or overwrite was dispatched to nobody. A fresh session's guilds carry the
 * permissions as they are now, so the catch-up is where it is noticed.
 */
describe('a round whose bot lost permissions while it was offline', () => {
  let world: World | undefined;
  afterEach(async () => {
    await world?.stop();
  });

  it('tells the starter at the next start, once, and still reads back what it may', async () => {
    const botRole = invitedRole();
    world = await startWorld({ fake: { roles: [botRole], botRoles: [botRole.id] } });
    const { fake } = world;
    const { round, threadId } = await roundWithOpinions(world);
    await world.restart(() => {
      fake.setRolePermissions(botRole.id, withoutReactions);
      fake.say(threadId, cai, 'Only with a trial first.');
    });
    await until(() => fake.directMessagesTo(MOD.id).length > 0);
    expect(fake.directMessagesTo(MOD.id)).toEqual([
      `The bot lost permissions a round needs in <#${round.channelId}>, where round \`${round.id}\` (“${QUESTION}”) is still open: AddReactions. Until a server admin gives them back (to its role, or in the channel's permissions), the round's messages cannot be posted there.`,
    ]);
    // Reading needs no reactions: the reply written meanwhile is read back.
    await until(async () => (await opinions(world as World, round.id)).length === 3);
    // A start with nothing new tells nobody again.
    await world.restart();
    await settle(world);
    expect(fake.directMessagesTo(MOD.id)).toHaveLength(1);
    // Given back, then taken again: that is news, told at once.
    fake.setRolePermissions(botRole.id, INVITED);
    await settle(world);
    fake.setRolePermissions(botRole.id, withoutReactions);
    await until(() => fake.directMessagesTo(MOD.id).length === 2 || null);
  }, 30_000);

  it('keeps every reply when Read Message History was taken (Discord then lists none), and reads back once it is given back', async () => {
    const botRole = invitedRole();
    world = await startWorld({ fake: { roles: [botRole], botRoles: [botRole.id] } });
    const { fake } = world;
    const { round, threadId } = await roundWithOpinions(world);
    const deny = deniedToBot(fake.bot.id, PermissionFlagsBits.ReadMessageHistory);
    await world.restart(() => {
      fake.setOverwrites(round.channelId, [deny]);
      fake.say(threadId, cai, 'Only with a trial first.');
    });
    await until(() => fake.directMessagesTo(MOD.id).length > 0);
    expect(fake.directMessagesTo(MOD.id)[0]).toContain(': ReadMessageHistory.');
    await settle(world);
    // Read now, the thread would look empty, and both replies would count as deleted.
    expect(await opinions(world, round.id)).toHaveLength(2);
    fake.setOverwrites(round.channelId, []);
    await until(async () => (await opinions(world as World, round.id)).length === 3);
  }, 30_000);

  it('does not try to read a channel it may no longer see, and reads it once it may', async () => {
    const botRole = invitedRole();
    world = await startWorld({ fake: { roles: [botRole], botRoles: [botRole.id] } });
    const { fake } = world;
    const { round, threadId } = await roundWithOpinions(world);
    const deny = deniedToBot(fake.bot.id, PermissionFlagsBits.ViewChannel);
    await world.restart(() => {
      fake.setOverwrites(round.channelId, [deny]);
    });
    await until(() => fake.directMessagesTo(MOD.id).length > 0);
    expect(fake.directMessagesTo(MOD.id)[0]).toContain(
      `The bot can no longer see <#${round.channelId}>, where round \`${round.id}\``,
    );
    // Hidden, the channel gets no marker for settle(): the bot's own queue is waited for.
    await world.discord.idle();
    const reads = () => fake.requested('GET', new RegExp(`^/channels/${threadId}/messages$`));
    expect(reads()).toEqual([]);
    fake.say(threadId, cai, 'Only with a trial first.');
    fake.setOverwrites(round.channelId, []);
    await until(async () => (await opinions(world as World, round.id)).length === 3);
  }, 30_000);
});
