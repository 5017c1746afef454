import {
  ChannelType,
  type Guild,
  type GuildMember,
  type NonThreadGuildBasedChannel,
  OverwriteType,
  PermissionFlagsBits,
  PermissionsBitField,
  type PermissionsString,
} from 'discord.js';
import { ROUND_PERMISSIONS } from './client.js';

/** One channel permission overwrite, as plain bits. */
export interface Overwrite {
  id: string;
  type: 'role' | 'member';
  allow: bigint;
  deny: bigint;
}

/** What Discord computes a member's permissions in a channel from. */
export interface PermissionInputs {
  /** The guild's id, which is also its @everyone role's. */
  guildId: string;
  ownerId: string;
  memberId: string;
  /** The member's roles, @everyone left out (everybody has it). */
  memberRoleIds: readonly string[];
  /** Every role's permission bits, @everyone's included. */
  roleBits: ReadonlyMap<string, bigint>;
  overwrites: readonly Overwrite[];
}

/**
 * A member's permissions in a channel, as Discord computes them: the owner has all, then
 * the union of @everyone's and the member's roles' bits (Administrator: all), then the
 * channel's @everyone overwrite, its overwrites of the member's roles together, and the
 * member's own. Computed here rather than by discord.js because a change is judged by
 * the permissions before it too, which discord.js's cache no longer holds.
 */
export function channelPermissions(inputs: PermissionInputs): bigint {
  if (inputs.memberId === inputs.ownerId) return PermissionsBitField.All;
  const roles = new Set([inputs.guildId, ...inputs.memberRoleIds]);
  let bits = 0n;
  for (const id of roles) bits |= inputs.roleBits.get(id) ?? 0n;
  if ((bits & PermissionFlagsBits.Administrator) !== 0n) return PermissionsBitField.All;
  const apply = (allow: bigint, deny: bigint) => {
    bits = (bits & ~deny) | allow;
  };
  const everyone = inputs.overwrites.find((o) => o.type === 'role' && o.id === inputs.guildId);
  if (everyone) apply(everyone.allow, everyone.deny);
  let allow = 0n;
  let deny = 0n;
  for (const o of inputs.overwrites) {
    if (o.type !== 'role' || o.id === inputs.guildId || !roles.has(o.id)) continue;
    allow |= o.allow;
    deny |= o.deny;
  }
  apply(allow, deny);
  const own = inputs.overwrites.find((o) => o.type === 'member' && o.id === inputs.memberId);
  if (own) apply(own.allow, own.deny);
  return bits;
}

/** The permissions a round under way needs that these bits lack, by discord.js's names. */
export function missingRoundPermissions(bits: bigint): PermissionsString[] {
  return new PermissionsBitField(bits).missing([...ROUND_PERMISSIONS]);
}

/**
 * How a change of the bot's permissions in one channel bears on the rounds there. Both
 * can happen in one change (a role swapped for one that sees the channel but may not add
 * reactions): what was said meanwhile is read, and the starters are told what is missing.
 */
export interface PermissionShift {
  channelId: string;
  /** Everything a round needs that is missing now, when something of it newly is. */
  lost: PermissionsString[] | null;
  /**
   * View Channel and Read Message History both held again after one was missing: what was
   * said meanwhile must be read (without the second, Discord lists a channel's messages
   * as none, which a catch-up would take for every reply deleted).
   */
  readRegained: boolean;
  /** Nothing a round needs is missing any more, where something was. */
  restored: boolean;
}

/** What reading a channel's messages back takes. */
const READ_PERMISSIONS: readonly PermissionsString[] = ['ViewChannel', 'ReadMessageHistory'];

/** Whether these missing permissions still let the bot read the channel's messages. */
export function mayRead(missing: readonly string[]): boolean {
  return !READ_PERMISSIONS.some((p) => missing.includes(p));
}

export function shiftOf(
  channelId: string,
  missingBefore: readonly string[],
  missingAfter: readonly PermissionsString[],
): PermissionShift {
  const newlyMissing = missingAfter.some((p) => !missingBefore.includes(p));
  return {
    channelId,
    lost: newlyMissing ? [...missingAfter] : null,
    readRegained: !mayRead(missingBefore) && mayRead(missingAfter),
    restored: missingBefore.length > 0 && missingAfter.length === 0,
  };
}

/** Whether a shift calls for anything: a loss to tell or a channel to read back. */
export function shifted(shift: PermissionShift): boolean {
  return shift.lost !== null || shift.readRegained || shift.restored;
}

/** The channels rounds run in (startRefusal in interactions.ts allows no others). */
const ROUND_CHANNEL_TYPES: readonly ChannelType[] = [
  ChannelType.GuildText,
  ChannelType.GuildAnnouncement,
];

/** What the bot's permissions were computed from before a change, where it differs from now. */
export interface EarlierState {
  /** A role's bits before it was edited or deleted. */
  role?: { id: string; bits: bigint };
  /** The bot's roles before they were changed (a deleted one included). */
  memberRoleIds?: readonly string[];
}

/**
 * The ids of the roles discord.js holds for `member`, a deleted role's included:
 * `roles.cache` leaves a role out as soon as the guild's cache drops it, which is when the
 * bot's permissions from before the deletion are wanted. The list is private to discord.js
 * (14, pinned in package.json); were it gone, only `roles.cache` is read, and the
 * roles-changed test of a deleted role fails.
 */
export function heldRoleIds(member: GuildMember): string[] {
  const raw: unknown = (member as unknown as { _roles?: unknown })._roles;
  if (Array.isArray(raw)) return raw.filter((id): id is string => typeof id === 'string');
  return [...member.roles.cache.keys()].filter((id) => id !== member.guild.id);
}

/**
 * For every channel of the guild that can hold a round, how a change to the bot's roles,
 * or to a role's permissions, moved what it may do there. Only channels where it shifted
 * something are returned.
 */
export function permissionShifts(
  guild: Guild,
  me: GuildMember,
  earlier: EarlierState,
): PermissionShift[] {
  const roleBits = new Map(
    [...guild.roles.cache.values()].map((r) => [r.id, r.permissions.bitfield]),
  );
  const before = new Map(roleBits);
  if (earlier.role) before.set(earlier.role.id, earlier.role.bits);
  const roleIds = [...me.roles.cache.keys()].filter((id) => id !== guild.id);
  const shifts: PermissionShift[] = [];
  for (const channel of guild.channels.cache.values()) {
    if (channel.isThread() || !ROUND_CHANNEL_TYPES.includes(channel.type)) continue;
    const base = {
      guildId: guild.id,
      ownerId: guild.ownerId,
      memberId: me.id,
      overwrites: overwritesOf(channel),
    };
    const was = channelPermissions({
      ...base,
      roleBits: before,
      memberRoleIds: earlier.memberRoleIds ?? roleIds,
    });
    const now = channelPermissions({ ...base, roleBits, memberRoleIds: roleIds });
    const shift = shiftOf(channel.id, missingRoundPermissions(was), missingRoundPermissions(now));
    if (shifted(shift)) shifts.push(shift);
  }
  return shifts;
}

function overwritesOf(channel: NonThreadGuildBasedChannel): Overwrite[] {
  return [...channel.permissionOverwrites.cache.values()].map((o) => ({
    id: o.id,
    type: o.type === OverwriteType.Member ? 'member' : 'role',
    allow: o.allow.bitfield,
    deny: o.deny.bitfield,
  }));
}
