import { Client, type Guild, PermissionFlagsBits } from 'discord.js';
import { describe, expect, it } from 'vitest';
import { createRng, type Rng } from '../../../src/domain/random.js';
import {
  channelPermissions,
  type Overwrite,
  permissionShifts,
  shiftOf,
} from '../../../src/platforms/discord/permissions.js';

/** Bits that matter to rounds, and Administrator, so random draws often hit them. */
const BITS = [
  PermissionFlagsBits.ViewChannel,
  PermissionFlagsBits.SendMessages,
  PermissionFlagsBits.SendMessagesInThreads,
  PermissionFlagsBits.EmbedLinks,
  PermissionFlagsBits.AddReactions,
  PermissionFlagsBits.ReadMessageHistory,
  PermissionFlagsBits.Administrator,
];
const GUILD = '900000000000000000';
const BOT = '900000000000000001';

function someBits(rng: Rng, p: number): bigint {
  let bits = 0n;
  for (const bit of BITS) if (rng.next() < p) bits |= bit;
  return bits;
}

interface Drawn {
  ownerId: string;
  roleBits: Map<string, bigint>;
  memberRoleIds: string[];
  overwrites: Overwrite[];
}

function draw(rng: Rng): Drawn {
  const roleIds = ['900000000000000011', '900000000000000012', '900000000000000013'];
  const roleBits = new Map<string, bigint>([[GUILD, someBits(rng, 0.5)]]);
  // Administrator rarely, so most cases go through the overwrites.
  for (const id of roleIds) roleBits.set(id, someBits(rng, 0.4) & ~(rng.next() < 0.9 ? 8n : 0n));
  const memberRoleIds = roleIds.filter(() => rng.next() < 0.5);
  const overwrites: Overwrite[] = [];
  const targets: [string, Overwrite['type']][] = [
    [GUILD, 'role'],
    ...roleIds.map((r): [string, Overwrite['type']] => [r, 'role']),
    [BOT, 'member'],
  ];
  for (const [id, type] of targets) {
    if (rng.next() < 0.5) {
      overwrites.push({ id, type, allow: someBits(rng, 0.2), deny: someBits(rng, 0.3) });
    }
  }
  return { ownerId: rng.next() < 0.05 ? BOT : GUILD, roleBits, memberRoleIds, overwrites };
}

/** The same guild as discord.js builds it from a gateway payload, to ask it as the oracle. */
function asGuild(client: Client, d: Drawn): Guild {
  const guilds = client.guilds as unknown as { _add(data: unknown): Guild }; // not in the typings
  return guilds._add({
    id: GUILD,
    name: 'oracle',
    owner_id: d.ownerId,
    roles: [...d.roleBits].map(([id, bits], position) => ({
      id,
      name: id,
      permissions: bits.toString(),
      position,
      color: 0,
      hoist: false,
      managed: false,
      mentionable: false,
      flags: 0,
    })),
    members: [
      {
        user: { id: BOT, username: 'bot', discriminator: '0', bot: true },
        roles: d.memberRoleIds,
        joined_at: new Date(0).toISOString(),
        deaf: false,
        mute: false,
        flags: 0,
      },
    ],
    channels: [
      { id: '900000000000000100', type: 0, name: 'general' },
      { id: '900000000000000101', type: 4, name: 'a category' },
    ].map((channel, position) => ({
      ...channel,
      position,
      permission_overwrites: d.overwrites.map((o) => ({
        id: o.id,
        type: o.type === 'member' ? 1 : 0,
        allow: o.allow.toString(),
        deny: o.deny.toString(),
      })),
    })),
  });
}

describe("the bot's permissions in a channel", () => {
  it('are what discord.js computes, over 500 drawn roles and overwrites', () => {
    const rng = createRng(7);
    let differ = 0;
    let withRoundBits = 0;
    for (let i = 0; i < 500; i++) {
      const d = draw(rng);
      // A client of its own each time: discord.js's channel cache would keep the last guild.
      const client = new Client({ intents: [] });
      const guild = asGuild(client, d);
      const channel = guild.channels.cache.get('900000000000000100');
      const me = guild.members.cache.get(BOT);
      if (!channel || channel.isThread() || !me) throw new Error('the oracle guild is incomplete');
      const expected = channel.permissionsFor(me).bitfield;
      const ours = channelPermissions({ guildId: GUILD, memberId: BOT, ...d });
      if (ours !== expected) differ++;
      if ((expected & PermissionFlagsBits.AddReactions) !== 0n) withRoundBits++;
      void client.destroy();
    }
    expect(differ).toBe(0);
    // The draws are varied enough to mean something: some have the bit, some not.
    expect(withRoundBits).toBeGreaterThan(50);
    expect(withRoundBits).toBeLessThan(450);
  });

  it('give a role overwrite precedence over @everyone, and the member overwrite over both', () => {
    const base = {
      guildId: GUILD,
      ownerId: GUILD,
      memberId: BOT,
      memberRoleIds: ['1'],
      roleBits: new Map([[GUILD, PermissionFlagsBits.ViewChannel]]),
    };
    const view = PermissionFlagsBits.ViewChannel;
    const everyoneDenies = { id: GUILD, type: 'role' as const, allow: 0n, deny: view };
    const roleAllows = { id: '1', type: 'role' as const, allow: view, deny: 0n };
    const memberDenies = { id: BOT, type: 'member' as const, allow: 0n, deny: view };
    expect(channelPermissions({ ...base, overwrites: [everyoneDenies] }) & view).toBe(0n);
    expect(channelPermissions({ ...base, overwrites: [everyoneDenies, roleAllows] }) & view).toBe(
      view,
    );
    expect(
      channelPermissions({ ...base, overwrites: [everyoneDenies, roleAllows, memberDenies] }) &
        view,
    ).toBe(0n);
  });
});

describe('a change of permissions, for the rounds of a channel', () => {
  it('is a loss when a permission a round needs goes, told with all that is missing', () => {
    expect(shiftOf('c', ['EmbedLinks'], ['EmbedLinks', 'AddReactions'])).toEqual({
      channelId: 'c',
      lost: ['EmbedLinks', 'AddReactions'],
      readRegained: false,
      restored: false,
    });
    // Nothing newly missing: nothing to tell, even with something still missing.
    const none = { channelId: 'c', lost: null, readRegained: false, restored: false };
    expect(shiftOf('c', ['EmbedLinks', 'AddReactions'], ['EmbedLinks'])).toEqual(none);
    expect(shiftOf('c', [], [])).toEqual(none);
  });

  it('reads the channel back when View Channel returns', () => {
    expect(shiftOf('c', ['ViewChannel', 'AddReactions'], ['AddReactions'])).toEqual({
      channelId: 'c',
      lost: null,
      readRegained: true,
      restored: false,
    });
  });

  it('reads the channel back when Read Message History returns, and not while it is still missing', () => {
    expect(shiftOf('c', ['ReadMessageHistory'], [])).toEqual({
      channelId: 'c',
      lost: null,
      readRegained: true,
      restored: true,
    });
    expect(shiftOf('c', ['ViewChannel', 'ReadMessageHistory'], ['ReadMessageHistory'])).toEqual({
      channelId: 'c',
      lost: null,
      readRegained: false,
      restored: false,
    });
  });

  it('both reads back and tells when one change gives View Channel and takes another', () => {
    expect(shiftOf('c', ['ViewChannel'], ['AddReactions'])).toEqual({
      channelId: 'c',
      lost: ['AddReactions'],
      readRegained: true,
      restored: false,
    });
  });

  it("follows a role's earlier bits and the bot's earlier roles, channel by channel", () => {
    const client = new Client({ intents: [] });
    try {
      const all = BITS.filter((b) => b !== PermissionFlagsBits.Administrator).reduce(
        (a, b) => a | b,
        0n,
      );
      const role = '900000000000000011';
      const guild = asGuild(client, {
        ownerId: GUILD,
        roleBits: new Map([
          [GUILD, 0n],
          [role, all & ~PermissionFlagsBits.AddReactions],
        ]),
        memberRoleIds: [role],
        overwrites: [],
      });
      const me = guild.members.cache.get(BOT);
      if (!me) throw new Error('no bot member');
      // The role had every bit; it lost Add Reactions.
      // Only the text channel: the category beside it holds no round.
      expect(permissionShifts(guild, me, { role: { id: role, bits: all } })).toEqual([
        {
          channelId: '900000000000000100',
          lost: ['AddReactions'],
          readRegained: false,
          restored: false,
        },
      ]);
      // The bot had no role (so saw nothing) and was given this one.
      expect(permissionShifts(guild, me, { memberRoleIds: [] })).toEqual([
        { channelId: '900000000000000100', lost: null, readRegained: true, restored: false },
      ]);
      // Nothing changed: no shift.
      expect(permissionShifts(guild, me, {})).toEqual([]);
    } finally {
      void client.destroy();
    }
  });
});
