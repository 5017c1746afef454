import { type REST, Routes } from 'discord.js';
import { z } from 'zod';
import { type CatchUpReport, catchUpRound } from '../../deliberation/catch-up.js';
import type { OpenRoundState, ReplyOutcome } from '../../deliberation/service.js';
import { DomainError } from '../../domain/errors.js';
import type { Log } from '../../domain/log.js';
import type { Scope } from '../../domain/scope.js';
import type { DiscordService } from './bot.js';
import { optionKeyFor, reactionVariant, variantEmoji } from './emoji.js';
import { describeError } from './errors.js';
import { replyFromDiscord } from './text.js';

/**
 * How much one round's catch-up may read, so a restart in a busy server stays a bounded
 * number of REST calls (each route is rate-limited; @discordjs/rest queues them).
 */
export interface CatchUpLimits {
  /** Items per page: Discord's largest for messages and for a reaction's users is 100. */
  pageSize: number;
  /** Pages of thread messages per round. */
  messagePages: number;
  /** Pages of users per reaction emoji. */
  reactionPages: number;
  /** Reaction emojis read per statement: the scale's options and their skin-tone variants. */
  reactionEmojis: number;
  /**
   * How long after an event the bot failed to handle (a Redis error, say) the guild's open
   * rounds are reread, once for a burst of failures: the gateway never sends it again.
   */
  afterFailureMs: number;
}

export const CATCH_UP_LIMITS: CatchUpLimits = {
  pageSize: 100,
  messagePages: 10,
  reactionPages: 10,
  reactionEmojis: 24,
  afterFailureMs: 30_000,
};

const Snowflake = z.string().regex(/^\d{1,20}$/);

const ThreadMessageSchema = z.object({
  id: Snowflake,
  type: z.number().int(),
  content: z.string(),
  timestamp: z.string(),
  edited_timestamp: z.string().nullish(),
  author: z.object({ id: Snowflake, bot: z.boolean().optional() }),
  webhook_id: z.string().nullish(),
  // The members the message mentions, with their names, as the gateway sends them.
  mentions: z
    .array(z.object({ id: Snowflake, username: z.string(), global_name: z.string().nullish() }))
    .optional(),
});
type ThreadMessage = z.infer<typeof ThreadMessageSchema>;

const ReactionSummarySchema = z.object({
  reactions: z
    .array(
      z.object({
        emoji: z.object({ id: z.string().nullable(), name: z.string().nullable() }),
        count: z.number().int(),
        count_details: z.object({ normal: z.number().int(), burst: z.number().int() }).optional(),
      }),
    )
    .optional(),
});

const ReactorSchema = z.object({ id: Snowflake, bot: z.boolean().optional() });

/** Default (0) and Reply (19): the only message types that are a member's words. */
const MEMBER_MESSAGE_TYPES = new Set([0, 19]);

export interface CatchUpDeps {
  rest: REST;
  service: DiscordService;
  log: Log;
  now: () => number;
  /** The bot's own user id: its poll reactions are never ratings. */
  botUserId: () => string | null;
  /** Tells a member about a reply the catch-up recorded (e.g. it was cut). */
  tell: (
    outcome: ReplyOutcome,
    place: { channelId: string; messageId: string; userId: string },
  ) => Promise<void>;
  limits?: Partial<CatchUpLimits>;
}

/** One range of ids read in full: everything in (after, through] was seen; through null = to the end. */
interface Covered {
  after: bigint;
  through: bigint | null;
}

function within(id: string, covered: Covered): boolean {
  if (!/^\d{1,20}$/.test(id)) return false;
  const n = BigInt(id);
  return n > covered.after && (covered.through === null || n <= covered.through);
}

/**
 * Brings a round's store up to date with Discord after the bot was offline: the gateway
 * does not redeliver what happened while no session was up, so the round's thread and its
 * poll are read back over REST. Replies go through the service as the live events would
 * (same event ids, so nothing counts twice, and stale edits are ignored by the store);
 * reply and reaction removals are only concluded for ranges read in full.
 */
export class CatchUp {
  private readonly limits: CatchUpLimits;

  constructor(private readonly deps: CatchUpDeps) {
    this.limits = { ...CATCH_UP_LIMITS, ...deps.limits };
  }

  async round(scope: Scope, state: OpenRoundState): Promise<CatchUpReport> {
    return catchUpRound(state.round.id, this.deps.log, describeError, {
      replies: (report) => this.replies(scope, state, report),
      ratings: (report) => this.ratings(scope, state, report),
    });
  }

  // ---- replies -----------------------------------------------------------------------------

  private async replies(scope: Scope, state: OpenRoundState, report: CatchUpReport) {
    const { round, replies } = state;
    const threadId = round.questionRef?.threadId;
    // Without the message that opened the set, nothing tells its replies from earlier ones.
    if (!replies || !threadId || replies.since === null) return;
    const { messages, covered } = await this.threadMessages(threadId, replies.since);
    report.messagesRead = messages.length;
    if (covered.through !== null) report.capped = true;
    for (const message of messages) {
      if (!isMemberMessage(message)) continue;
      const edited = message.edited_timestamp ? Date.parse(message.edited_timestamp) : null;
      const outcome = await this.deps.service.reply({
        scope,
        channelId: round.channelId,
        threadRootId: threadId,
        messageId: message.id,
        userId: message.author.id,
        text: replyFromDiscord(
          message.content,
          new Map((message.mentions ?? []).map((u) => [u.id, u.global_name ?? u.username])),
        ),
        at: Date.parse(message.timestamp),
        // The event ids the live MESSAGE_CREATE / MESSAGE_UPDATE would have had.
        ...(edited === null
          ? { eventId: `msg.${message.id}` }
          : { revision: edited, eventId: `edit.${message.id}.${edited}` }),
      });
      report.replies[outcome.status] = (report.replies[outcome.status] ?? 0) + 1;
      // Only a reply new to the store earns a notice: re-reading old ones must stay silent.
      if (outcome.status === 'recorded') {
        await this.deps.tell(outcome, {
          channelId: threadId,
          messageId: message.id,
          userId: message.author.id,
        });
      }
    }
    const present = new Set(messages.map((m) => m.id));
    for (const messageId of replies.messageIds) {
      if (present.has(messageId) || !within(messageId, covered)) continue;
      const outcome = await this.deps.service.removeReply({
        scope,
        channelId: round.channelId,
        threadRootId: threadId,
        messageId,
      });
      if (outcome.status === 'removed') report.repliesRemoved++;
    }
  }

  /** The thread's messages after `since`, oldest first, and the range read in full. */
  private async threadMessages(
    threadId: string,
    since: string,
  ): Promise<{ messages: ThreadMessage[]; covered: Covered }> {
    const messages: ThreadMessage[] = [];
    let after = BigInt(since);
    for (let page = 0; page < this.limits.messagePages; page++) {
      const raw = await this.deps.rest.get(Routes.channelMessages(threadId), {
        query: new URLSearchParams({
          after: after.toString(),
          limit: String(this.limits.pageSize),
        }),
      });
      const batch = parseEach(ThreadMessageSchema, raw, this.deps.log, 'thread message');
      // Discord sorts a page newest first, even when paging forward with `after`.
      batch.sort((a, b) => compareIds(a.id, b.id));
      messages.push(...batch);
      const last = batch.at(-1);
      if (!Array.isArray(raw) || raw.length < this.limits.pageSize || !last) {
        return { messages, covered: { after: BigInt(since), through: null } };
      }
      after = BigInt(last.id);
    }
    this.deps.log.warn(
      { threadId, read: messages.length },
      'catch-up read the most thread messages it may; later ones are left as they were',
    );
    return { messages, covered: { after: BigInt(since), through: after } };
  }

  // ---- ratings -----------------------------------------------------------------------------

  private async ratings(scope: Scope, state: OpenRoundState, report: CatchUpReport) {
    const statement = state.statement;
    if (!statement) return;
    const { channelId, messageId } = statement;
    // What the reads find is as of before them: a reaction taken back (or given) while they
    // ran is an event timed after this, which must win over the older snapshot.
    const now = this.deps.now();
    const onDiscord = await this.reactionsOnDiscord(channelId, messageId, report);
    const stored = await this.deps.service.pollReactions(scope, channelId, messageId);
    if (!stored) return;
    const key = (r: { userId: string; optionKey: string; variant: string }) =>
      `${r.userId} ${r.optionKey} ${r.variant}`;
    const storedByKey = new Map(stored.reactions.map((r) => [key(r), r]));
    const react = async (
      r: { userId: string; optionKey: string; variant: string },
      removed: boolean,
      at = now,
    ) => {
      const { userId, optionKey, variant } = r;
      await this.deps.service.react({
        scope,
        channelId,
        messageId,
        at,
        removed,
        userId,
        optionKey,
        variant,
      });
    };
    try {
      for (const reaction of onDiscord.present.values()) {
        if (storedByKey.has(key(reaction))) continue;
        // A super reaction an older version stored under the plain emoji: it keeps the
        // time it was given, or it would become the member's latest and outrank a later
        // rating. The plain record, not on Discord, is taken back below.
        const base = { ...reaction, variant: variantEmoji(reaction.variant) };
        const legacy =
          base.variant !== reaction.variant && !onDiscord.present.has(key(base))
            ? storedByKey.get(key(base))
            : undefined;
        await react(reaction, false, legacy?.addedAt);
        if (!legacy) report.ratingsAdded++;
      }
      for (const reaction of stored.reactions) {
        if (onDiscord.present.has(key(reaction))) continue;
        const covered = onDiscord.covered.get(variantEmoji(reaction.variant)) ?? NOTHING_LEFT;
        // A variant or a range of users not read (caps) proves nothing about its reactions.
        if (covered === UNREAD || !within(reaction.userId, covered)) continue;
        await react(reaction, true);
        const superOf = { ...reaction, variant: reactionVariant(reaction.variant, true) };
        // Moved to its super record above: the same rating, neither added nor removed.
        if (!onDiscord.present.has(key(superOf))) report.ratingsRemoved++;
      }
    } catch (error) {
      // Finished while we read: the results stand as they were posted.
      if (error instanceof DomainError && error.code === 'poll_closed') return;
      throw error;
    }
  }

  /**
   * The poll reactions on a statement as Discord has them now (the bot's own left out),
   * and per emoji variant the range of user ids read in full.
   */
  private async reactionsOnDiscord(channelId: string, messageId: string, report: CatchUpReport) {
    const present = new Map<string, { userId: string; optionKey: string; variant: string }>();
    const covered = new Map<string, Covered | typeof UNREAD>();
    const summary = ReactionSummarySchema.parse(
      await this.deps.rest.get(Routes.channelMessage(channelId, messageId)),
    );
    const polled = (summary.reactions ?? []).flatMap((r) => {
      const optionKey = optionKeyFor(r.emoji.name, r.emoji.id);
      return optionKey === null || r.emoji.name === null
        ? []
        : [{ optionKey, variant: r.emoji.name, details: r.count_details }];
    });
    const botId = this.deps.botUserId();
    for (const [i, { optionKey, variant, details }] of polled.entries()) {
      if (i >= this.limits.reactionEmojis) {
        covered.set(variant, UNREAD);
        report.capped = true;
        continue;
      }
      // Super reactions (burst) are listed apart; read them only when there are some.
      const types = details
        ? [details.normal > 0 ? '0' : null, details.burst > 0 ? '1' : null]
        : ['0'];
      let range: Covered = { after: 0n, through: null };
      for (const type of types) {
        if (type === null) continue;
        const read = await this.reactors(channelId, messageId, variant, type);
        for (const user of read.users) {
          if (user.id === botId || user.bot === true) continue;
          const reaction = {
            userId: user.id,
            optionKey,
            variant: reactionVariant(variant, type === '1'),
          };
          present.set(`${user.id} ${optionKey} ${reaction.variant}`, reaction);
        }
        if (read.through !== null) {
          report.capped = true;
          // Two capped lists (normal, burst) are only both complete up to the lower id.
          range = {
            after: 0n,
            through:
              range.through === null || read.through < range.through ? read.through : range.through,
          };
        }
      }
      covered.set(variant, range);
    }
    return { present, covered };
  }

  private async reactors(channelId: string, messageId: string, emoji: string, type: string) {
    const users: z.infer<typeof ReactorSchema>[] = [];
    let after: string | null = null;
    for (let page = 0; page < this.limits.reactionPages; page++) {
      const query = new URLSearchParams({ limit: String(this.limits.pageSize), type });
      if (after !== null) query.set('after', after);
      const raw = await this.deps.rest.get(
        Routes.channelMessageReaction(channelId, messageId, encodeURIComponent(emoji)),
        { query },
      );
      const batch = parseEach(ReactorSchema, raw, this.deps.log, 'reaction user');
      users.push(...batch);
      const last = batch.at(-1);
      if (!Array.isArray(raw) || raw.length < this.limits.pageSize || !last) {
        return { users, through: null };
      }
      after = last.id;
    }
    return { users, through: after === null ? null : BigInt(after) };
  }
}

/** A variant whose users were not read at all. */
const UNREAD = 'unread' as const;
/** A variant gone from the message: none of its reactions is left. */
const NOTHING_LEFT: Covered = { after: 0n, through: null };

function isMemberMessage(message: ThreadMessage): boolean {
  return (
    message.author.bot !== true && !message.webhook_id && MEMBER_MESSAGE_TYPES.has(message.type)
  );
}

function compareIds(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The items of a REST list that match the schema; one odd item is logged and skipped, not fatal. */
function parseEach<T>(schema: z.ZodType<T>, raw: unknown, log: Log, what: string): T[] {
  if (!Array.isArray(raw)) {
    log.warn({ what }, 'Discord answered a list request with something else');
    return [];
  }
  const items: T[] = [];
  for (const item of raw) {
    const parsed = schema.safeParse(item);
    if (parsed.success) items.push(parsed.data);
    else
      log.warn(
        { what, issue: parsed.error.issues[0]?.message ?? 'invalid' },
        'skipped an item Discord sent',
      );
  }
  return items;
}
