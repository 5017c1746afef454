import {
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

/** How a change of the bot's permissions in one channel bears on the rounds there. */
export type PermissionShift =
  | { kind: 'lost'; channelId: string; missing: PermissionsString[] }
  | { kind: 'view-regained'; channelId: string }
  | { kind: 'none'; channelId: string };

/**
 * A permission a round needs newly missing is a loss (told with everything missing now);
 * otherwise View Channel given back means what was said meanwhile must be read.
 */
export function shiftOf(
  channelId: string,
  missingBefore: readonly string[],
  missingAfter: readonly PermissionsString[],
): PermissionShift {
  if (missingAfter.some((p) => !missingBefore.includes(p))) {
    return { kind: 'lost', channelId, missing: [...missingAfter] };
  }
  if (missingBefore.includes('ViewChannel') && !missingAfter.includes('ViewChannel')) {
    return { kind: 'view-regained', channelId };
  }
  return { kind: 'none', channelId };
}

/** What the bot's permissions were computed from before a change, where it differs from now. */
export interface EarlierState {
  /** A role's bits before it was edited. */
  role?: { id: string; bits: bigint };
  /** The bot's roles before they were changed. */
  memberRoleIds?: readonly string[];
}

/**
 * For every channel of the guild that can hold a round, how a change to the bot's roles,
 * or to a role's permissions, moved what it may do there. Only channels whose shift is
 * not 'none' are returned.
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
    if (channel.isThread()) continue;
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
    if (shift.kind !== 'none') shifts.push(shift);
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
