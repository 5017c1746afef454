import type { webApi } from '@slack/bolt';
import { z } from 'zod';
import { type CatchUpReport, catchUpRound } from '../../deliberation/catch-up.js';
import type { OpenRoundState } from '../../deliberation/service.js';
import { DomainError } from '../../domain/errors.js';
import type { Log } from '../../domain/log.js';
import type { Scope } from '../../domain/scope.js';
import { optionKeyFor } from './emoji.js';
import { isMemberReply, type Message, MessageSchema } from './events.js';
import { type ChannelAccess, describe } from './port.js';
import type { SlackService } from './service.js';
import { replyFromSlack, revisionMs, tsToMs } from './text.js';

/**
 * How much a start's catch-up may read, so a restart in a busy workspace stays a bounded
 * number of Web API calls (conversations.replies and reactions.get are rate-limited; the
 * client waits out a 429 and retries).
 */
export interface SlackCatchUpLimits {
  /** Rounds looked at: the open ones among the workspace's most recently started. */
  rounds: number;
  /** Messages per conversations.replies page: Slack's largest recommended is 200. */
  pageSize: number;
  /** Pages of thread replies per round. */
  replyPages: number;
  /**
   * How long after an event the bot failed to handle (acknowledged already, so Slack will
   * not send it again) the open rounds are reread, once for a burst of failures.
   */
  afterFailureMs: number;
}

export const SLACK_CATCH_UP_LIMITS: SlackCatchUpLimits = {
  rounds: 200,
  pageSize: 200,
  replyPages: 10,
  afterFailureMs: 30_000,
};

const RepliesPageSchema = z.object({
  messages: z.array(z.unknown()).optional(),
  has_more: z.boolean().optional(),
  response_metadata: z.object({ next_cursor: z.string().optional() }).nullish(),
});

const ReactionsSchema = z.object({
  message: z
    .object({
      reactions: z
        .array(
          z.object({
            name: z.string().min(1),
            users: z.array(z.string()).optional(),
            count: z.number().int().optional(),
          }),
        )
        .optional(),
    })
    .optional(),
});

export interface SlackCatchUpDeps {
  client: webApi.WebClient;
  service: SlackService;
  log: Log;
  now: () => number;
  /** The bot's own user id (auth.test): its messages and poll reactions never count. */
  botUserId: string | null;
  /** Other apps' bot users, whose reactions are not ratings (asked only for reactions not yet stored). */
  isBot: (userId: string) => Promise<boolean>;
  /** Tells a member about a reply the catch-up recorded (e.g. it was cut). */
  tell: (channel: string, user: string, text: string, threadTs: string) => Promise<void>;
  /** Whether the bot is still in a channel (conversations.info). */
  channelAccess: (channel: string) => Promise<ChannelAccess>;
  /** The bot is out of a round's channel: the starters are asked to invite it back. */
  botRemoved: (scope: Scope, channel: string) => Promise<void>;
  /** A round's channel was archived: its rounds are cancelled and their starters told. */
  channelClosed: (scope: Scope, channel: string) => Promise<void>;
  /** True once the adapter is stopping: the catch-up gives up between rounds. */
  stopping: () => boolean;
  limits?: Partial<SlackCatchUpLimits>;
}

type Reaction = { userId: string; optionKey: string; variant: string };
const keyOf = (r: Reaction) => `${r.userId} ${r.optionKey} ${r.variant}`;

/**
 * Brings the workspace's open rounds up to date with Slack after the bot was offline:
 * Slack retries an undelivered event only a few times within minutes, so the threads and
 * polls are read back over the Web API. Replies go through the service as the live events
 * would (the store ignores an unchanged or older revision, so rereading counts nothing
 * twice); removals are only concluded from what was read in full.
 */
export class SlackCatchUp {
  private readonly limits: SlackCatchUpLimits;

  constructor(private readonly deps: SlackCatchUpDeps) {
    this.limits = { ...SLACK_CATCH_UP_LIMITS, ...deps.limits };
  }

  /**
   * Every open round of the workspace (or of one channel), one at a time; a failing round
   * does not stop the rest.
   */
  async workspace(scope: Scope, onlyChannel: string | null = null): Promise<void> {
    const recent = await this.deps.service.recentOpenRounds(scope, this.limits.rounds);
    const open = recent.filter((s) => onlyChannel === null || s.round.channelId === onlyChannel);
    const access = new Map<string, ChannelAccess>();
    for (const state of open) {
      if (this.deps.stopping()) return;
      const { channelId } = state.round;
      // Removed while no event could reach the bot: Slack's channel_left is not resent.
      let reach = access.get(channelId);
      if (reach === undefined) {
        reach = await this.deps.channelAccess(channelId);
        access.set(channelId, reach);
        // Back in it meanwhile: a next removal is told anew.
        if (reach === 'not_member') await this.deps.botRemoved(scope, channelId);
        else if (reach === 'archived') await this.deps.channelClosed(scope, channelId);
        else await this.deps.service.botBack(scope, channelId);
      }
      // Slack refuses the reads; the round is read back when the bot is invited again. An
      // archived channel's rounds are cancelled: nothing more can be posted there.
      if (reach === 'not_member' || reach === 'archived') continue;
      const report = await this.round(scope, state);
      this.deps.log.info({ ...report }, 'caught up on a round');
    }
  }

  async round(scope: Scope, state: OpenRoundState): Promise<CatchUpReport> {
    return catchUpRound(state.round.id, this.deps.log, (error) => ({ error: describe(error) }), {
      replies: (report) => this.replies(scope, state, report),
      ratings: (report) => this.ratings(scope, state, report),
    });
  }

  // ---- replies -----------------------------------------------------------------------------

  private async replies(scope: Scope, state: OpenRoundState, report: CatchUpReport) {
    const { round, replies } = state;
    const root = round.questionRef?.messageId;
    // Without the message that opened the set, nothing tells its replies from earlier ones.
    if (!replies || !root || replies.since === null) return;
    const since = replies.since;
    const { messages, complete } = await this.threadReplies(round.channelId, root, since);
    report.messagesRead = messages.length;
    if (!complete) report.capped = true;
    const meta = { botUserId: this.deps.botUserId };
    const present = new Set<string>();
    for (const m of messages) {
      // Slack lists the thread's root first whatever `oldest` says.
      if (!isMemberReply(m, meta) || m.thread_ts !== root || !isAfter(m.ts, since)) continue;
      present.add(m.ts);
      const outcome = await this.deps.service.reply({
        scope,
        channelId: round.channelId,
        threadRootId: root,
        messageId: m.ts,
        userId: m.user,
        text: replyFromSlack(m.text ?? ''),
        at: tsToMs(m.ts),
        // The revision the live message or message_changed event would have carried.
        revision: revisionMs(m.ts, m.edited?.ts),
      });
      report.replies[outcome.status] = (report.replies[outcome.status] ?? 0) + 1;
      // Only a reply new to the store earns a notice: rereading old ones must stay silent.
      if (outcome.status === 'recorded' && outcome.notice) {
        await this.deps.tell(round.channelId, m.user, outcome.notice, root);
      }
    }
    if (!complete) return;
    for (const messageId of replies.messageIds) {
      if (present.has(messageId)) continue;
      const outcome = await this.deps.service.removeReply({
        scope,
        channelId: round.channelId,
        threadRootId: root,
        messageId,
      });
      if (outcome.status === 'removed') report.repliesRemoved++;
    }
  }

  /** The thread's messages after `since`, and whether they were all read (no cap reached). */
  private async threadReplies(
    channel: string,
    root: string,
    since: string,
  ): Promise<{ messages: Message[]; complete: boolean }> {
    const messages: Message[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < this.limits.replyPages; page++) {
      const answer = RepliesPageSchema.parse(
        await this.deps.client.conversations.replies({
          channel,
          ts: root,
          oldest: since,
          limit: this.limits.pageSize,
          ...(cursor && { cursor }),
        }),
      );
      for (const raw of answer.messages ?? []) {
        const parsed = MessageSchema.safeParse(raw);
        if (parsed.success) messages.push(parsed.data);
        else this.deps.log.warn({ channel, root }, 'skipped a thread message Slack sent');
      }
      cursor = answer.response_metadata?.next_cursor || undefined;
      if (!cursor) return { messages, complete: answer.has_more !== true };
    }
    this.deps.log.warn(
      { channel, root, read: messages.length },
      'catch-up read the most thread replies it may; later ones are left as they were',
    );
    return { messages, complete: false };
  }

  // ---- ratings -----------------------------------------------------------------------------

  private async ratings(scope: Scope, state: OpenRoundState, report: CatchUpReport) {
    const statement = state.statement;
    if (!statement) return;
    const { channelId, messageId } = statement;
    // What the reads find is as of before them: a reaction taken back (or given) while they
    // ran is an event timed after this, which must win over the older snapshot.
    const at = this.deps.now();
    // The store is read before Slack: a live reaction handled between the two reads is then
    // on Slack's side too, so it is never taken for one that went while the bot was away.
    const stored = await this.deps.service.pollReactions(scope, channelId, messageId);
    if (!stored) return;
    const onSlack = await this.reactionsOnSlack(channelId, messageId);
    if (onSlack.partial.size > 0) report.capped = true;
    const storedKeys = new Set(stored.reactions.map(keyOf));
    const react = ({ userId, optionKey, variant }: Reaction, removed: boolean) =>
      this.deps.service.react({
        scope,
        channelId,
        messageId,
        at,
        removed,
        userId,
        optionKey,
        variant,
      });
    try {
      for (const reaction of onSlack.present.values()) {
        if (storedKeys.has(keyOf(reaction))) continue;
        if (await this.deps.isBot(reaction.userId)) continue;
        await react(reaction, false);
        report.ratingsAdded++;
      }
      for (const reaction of stored.reactions) {
        // A reaction whose user list Slack cut short proves nothing about who took it back.
        if (onSlack.present.has(keyOf(reaction)) || onSlack.partial.has(reaction.variant)) {
          continue;
        }
        await react(reaction, true);
        report.ratingsRemoved++;
      }
    } catch (error) {
      // Finished while we read: the results stand as they were posted.
      if (error instanceof DomainError && error.code === 'poll_closed') return;
      throw error;
    }
  }

  /** The poll reactions on a statement as Slack has them (the bot's own left out). */
  private async reactionsOnSlack(channel: string, timestamp: string) {
    const answer = ReactionsSchema.parse(
      await this.deps.client.reactions.get({ channel, timestamp, full: true }),
    );
    const present = new Map<string, Reaction>();
    /** Reaction names whose `users` is shorter than their `count`. */
    const partial = new Set<string>();
    for (const r of answer.message?.reactions ?? []) {
      const optionKey = optionKeyFor(r.name);
      if (optionKey === null) continue;
      const users = r.users ?? [];
      if (r.count !== undefined && users.length < r.count) partial.add(r.name);
      for (const userId of users) {
        if (userId === this.deps.botUserId) continue;
        const reaction = { userId, optionKey, variant: r.name };
        present.set(keyOf(reaction), reaction);
      }
    }
    return { present, partial };
  }
}

/** Whether Slack ts `a` ("1700000000.000100") is later than `b`. */
function isAfter(a: string, b: string): boolean {
  const [as = '0', af = ''] = a.split('.');
  const [bs = '0', bf = ''] = b.split('.');
  const x = BigInt(as) * 1_000_000n + BigInt(af.padEnd(6, '0').slice(0, 6) || '0');
  const y = BigInt(bs) * 1_000_000n + BigInt(bf.padEnd(6, '0').slice(0, 6) || '0');
  return x > y;
}
