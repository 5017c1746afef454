import { z } from 'zod';
import type { Scope } from '../../domain/scope.js';
import type { ChannelSharing } from './port.js';
import { Remembered } from './remembered.js';

/** The one installation the bot token belongs to, from auth.test. */
export interface Installation {
  scope: Scope;
  teamId: string | null;
  enterpriseId: string | null;
  /** Installed for a whole Enterprise Grid organisation: every workspace of it is ours. */
  orgWide: boolean;
  /** The bot's own user id. */
  botUserId: string | null;
}

/** The team a command or an interaction says it comes from. */
export interface PayloadTeam {
  teamId: string | null;
  enterpriseId: string | null;
}

/** A slash command's own fields (form fields, so anything may be missing). */
const CommandTeamSchema = z.object({
  team_id: z.string().nullish(),
  enterprise_id: z.string().nullish(),
});

/** block_actions and view_submission: `team` is null in some org-wide contexts. */
const InteractionTeamSchema = z.object({
  team: z.object({ id: z.string().nullish(), enterprise_id: z.string().nullish() }).nullish(),
  user: z.object({ team_id: z.string().nullish() }).nullish(),
  enterprise: z.object({ id: z.string().nullish() }).nullish(),
});

export function commandTeam(body: unknown): PayloadTeam {
  const parsed = CommandTeamSchema.safeParse(body);
  if (!parsed.success) return { teamId: null, enterpriseId: null };
  return {
    teamId: parsed.data.team_id || null,
    enterpriseId: parsed.data.enterprise_id || null,
  };
}

export function interactionTeam(body: unknown): PayloadTeam {
  const parsed = InteractionTeamSchema.safeParse(body);
  if (!parsed.success) return { teamId: null, enterpriseId: null };
  const { team, user, enterprise } = parsed.data;
  return {
    teamId: team?.id || user?.team_id || null,
    enterpriseId: enterprise?.id || team?.enterprise_id || null,
  };
}

/**
 * Whether a payload's team is this installation's own. No team named is not ours: then
 * only the channel check can let the payload in.
 */
export function servesTeam(ours: Installation, team: PayloadTeam): boolean {
  if (ours.orgWide) return team.enterpriseId !== null && team.enterpriseId === ours.enterpriseId;
  return team.teamId !== null && team.teamId === ours.teamId;
}

export interface SharedChannelsOptions {
  /** conversations.info with the bot token, read as sharing. */
  lookUp: (channel: string) => Promise<ChannelSharing>;
  now: () => number;
  /** How many channels' answers are kept; the oldest goes first. */
  maxEntries?: number;
  /** How long an answer is trusted: channels get shared and disconnected. */
  ttlMs?: number;
}

/**
 * Which channels are shared with other workspaces (Slack Connect, or across an
 * organisation), asked once per channel and remembered for a while: a partner's member
 * may send many commands and clicks, and each would otherwise cost a Web API call.
 */
export class SharedChannels {
  private readonly answers: Remembered<ChannelSharing>;

  constructor(options: SharedChannelsOptions) {
    this.answers = new Remembered({
      lookUp: options.lookUp,
      now: options.now,
      ttlMs: options.ttlMs ?? 10 * 60_000,
      maxEntries: options.maxEntries ?? 1_000,
      // 'unknown' (Slack could not be asked) is not remembered, so the next payload asks again.
      keep: (answer) => answer !== 'unknown',
    });
  }

  sharing(channel: string): Promise<ChannelSharing> {
    return this.answers.get(channel);
  }
}
