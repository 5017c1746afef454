import { describe, expect, it } from 'vitest';
import type { ChannelSharing } from '../../../src/platforms/slack/port.js';
import {
  commandTeam,
  type Installation,
  interactionTeam,
  SharedChannels,
  servesTeam,
} from '../../../src/platforms/slack/tenancy.js';

const workspace: Installation = {
  scope: { platform: 'slack', workspaceId: 'T0001' },
  teamId: 'T0001',
  enterpriseId: 'E0001',
  orgWide: false,
  botUserId: 'UBOT',
};
const organisation: Installation = {
  ...workspace,
  scope: { platform: 'slack', workspaceId: 'E0001' },
  teamId: null,
  orgWide: true,
};

describe('which team a payload is for', () => {
  it('matches a workspace install by team, and an org-wide install by organisation', () => {
    const sibling = commandTeam({ team_id: 'T0009', enterprise_id: 'E0001' });
    expect(servesTeam(workspace, commandTeam({ team_id: 'T0001' }))).toBe(true);
    // Another workspace of the same organisation has its own installation.
    expect(servesTeam(workspace, sibling)).toBe(false);
    expect(servesTeam(organisation, sibling)).toBe(true);
    expect(
      servesTeam(organisation, commandTeam({ team_id: 'T0001', enterprise_id: 'E0002' })),
    ).toBe(false);
    // Naming no team is not naming ours.
    expect(servesTeam(workspace, commandTeam({}))).toBe(false);
    expect(servesTeam(workspace, commandTeam('not an object'))).toBe(false);
  });

  it('reads an interaction’s team, then its member’s, and its organisation', () => {
    expect(interactionTeam({ team: { id: 'T0001' }, user: { team_id: 'T0EXT' } })).toEqual({
      teamId: 'T0001',
      enterpriseId: null,
    });
    expect(
      interactionTeam({ team: null, user: { team_id: 'T0002' }, enterprise: { id: 'E1' } }),
    ).toEqual({ teamId: 'T0002', enterpriseId: 'E1' });
  });
});

describe('SharedChannels', () => {
  function cache(answers: Record<string, ChannelSharing>, maxEntries = 2) {
    const asked: string[] = [];
    let now = 0;
    const channels = new SharedChannels({
      lookUp: async (channel) => {
        asked.push(channel);
        return answers[channel] ?? 'not_shared';
      },
      now: () => now,
      maxEntries,
      ttlMs: 1_000,
    });
    return { channels, asked, advance: (ms: number) => (now += ms) };
  }

  it('asks once per channel, also for questions at the same time, until the answer is old', async () => {
    const { channels, asked, advance } = cache({ C1: 'shared' });
    expect(await Promise.all([channels.sharing('C1'), channels.sharing('C1')])).toEqual([
      'shared',
      'shared',
    ]);
    expect(await channels.sharing('C1')).toBe('shared');
    expect(asked).toEqual(['C1']);
    advance(1_000);
    await channels.sharing('C1');
    expect(asked).toEqual(['C1', 'C1']);
  });

  it('keeps a bounded number of answers, dropping the oldest, and never keeps “unknown”', async () => {
    const { channels, asked } = cache({ C3: 'unknown' });
    for (const channel of ['C1', 'C2', 'C4', 'C2', 'C1']) await channels.sharing(channel);
    // C1 was the oldest when C4 came: asked again.
    expect(asked).toEqual(['C1', 'C2', 'C4', 'C1']);
    expect(await channels.sharing('C3')).toBe('unknown');
    expect(await channels.sharing('C3')).toBe('unknown');
    expect(asked.filter((c) => c === 'C3')).toHaveLength(2);
  });
});
