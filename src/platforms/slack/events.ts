import { z } from 'zod';
import { tellRoundGone } from '../../deliberation/round-gone.js';
import { PollClosedError, type ReplyEvent } from '../../deliberation/service.js';
import { openRoundIn, ratedNote } from '../../deliberation/views.js';
import { DomainError, errorMessage } from '../../domain/errors.js';
import type { Log } from '../../domain/log.js';
import type { Round } from '../../domain/round.js';
import type { Scope } from '../../domain/scope.js';
import { RATE_HIDDEN_BLOCK_ID } from './blocks.js';
import type { BotUsers } from './bot-users.js';
import { optionKeyFor } from './emoji.js';
import type { SlackPort } from './port.js';
import type { SlackService } from './service.js';
import { escapeKeepingMentions, replyFromSlack, revisionMs, tsToMs } from './text.js';

const Ts = z.string().regex(/^\d+\.\d+$/);

/** The fields of a message the handlers (and the catch-up) read; Slack sends many more. */
export const MessageSchema = z.object({
  subtype: z.string().nullish(),
  user: z.string().nullish(),
  bot_id: z.string().nullish(),
  /** Set on messages an app posted, also when Slack gives them no bot_id (workflows, some integrations). */
  app_id: z.string().nullish(),
  text: z.string().nullish(),
  ts: Ts,
  thread_ts: Ts.nullish(),
  /** Set on an edited message: when it was last edited. */
  edited: z.object({ ts: Ts }).partial().nullish(),
  /** On a thread's root: how many replies it has. */
  reply_count: z.number().int().nonnegative().nullish(),
});
export type Message = z.infer<typeof MessageSchema>;

const MessageEventSchema = MessageSchema.partial().extend({
  type: z.literal('message'),
  channel: z.string().min(1),
  message: MessageSchema.nullish(),
  previous_message: MessageSchema.partial().nullish(),
  deleted_ts: Ts.nullish(),
  event_ts: Ts.nullish(),
});

const ReactionEventSchema = z.object({
  type: z.enum(['reaction_added', 'reaction_removed']),
  user: z.string().min(1),
  reaction: z.string().min(1),
  item: z.object({ type: z.string(), channel: z.string().nullish(), ts: Ts.nullish() }),
  event_ts: Ts,
});

/** Where an event came from, as Bolt's envelope and context tell it. */
export interface EventMeta {
  scope: Scope;
  eventId: string | null;
  /** The bot's own user id (auth.test), whose messages and reactions never count. */
  botUserId: string | null;
}

/** Messages that are a member's reply: plain, broadcast to the channel too, or with a file. */
const REPLY_SUBTYPES = new Set<string | null | undefined>([
  undefined,
  null,
  'thread_broadcast',
  'file_share',
]);

/** Slackbot's user id: its replies (reminders, auto-responses) are nobody's opinion. */
const SLACKBOT = 'USLACKBOT';

/** Written by a bot, an app or Slackbot rather than typed by a member. */
function isAutomated(m: Partial<Message>, meta: Pick<EventMeta, 'botUserId'>): boolean {
  return Boolean(m.bot_id || m.app_id) || m.user === SLACKBOT || m.user === meta.botUserId;
}

/** A member's reply in some thread (not the thread's root, not a bot's or an app's). */
export function isMemberReply(
  m: Message,
  meta: Pick<EventMeta, 'botUserId'>,
): m is Message & { user: string; thread_ts: string } {
  return (
    REPLY_SUBTYPES.has(m.subtype) &&
    Boolean(m.user) &&
    !isAutomated(m, meta) &&
    Boolean(m.thread_ts) &&
    m.thread_ts !== m.ts
  );
}

export interface EventDeps {
  service: SlackService;
  port: SlackPort;
  /** Other apps' bot users, whose reactions are not ratings. */
  bots: Pick<BotUsers, 'isBot'>;
  log: Log;
}

/**
 * A deletion that takes a whole thread away: its root gone with no reply left under it.
 * Slack deletes a root with replies by turning it into a tombstone (a message_changed),
 * and the thread goes on; once the tombstone's last reply goes, the tombstone is deleted
 * too. So a deleted root that was the bot's with no replies, or a tombstone, is a thread
 * nobody can reply in any more.
 */
function deletesThread(
  previous: Partial<Message> | null | undefined,
  deleted: string,
  meta: Pick<EventMeta, 'botUserId'>,
): boolean {
  if (!previous) return true;
  if (previous.thread_ts && previous.thread_ts !== deleted) return false;
  if (previous.subtype === 'tombstone') return true;
  return isAutomated(previous, meta) && !previous.reply_count;
}

/**
 * Thread replies become opinions (or critiques), edits replace them, deletions remove
 * them. Which thread belongs to which round, and what phase it is in, is the service's.
 */
export async function onMessage(raw: unknown, meta: EventMeta, deps: EventDeps): Promise<void> {
  const parsed = MessageEventSchema.safeParse(raw);
  if (!parsed.success) return;
  const event = parsed.data;
  const channel = event.channel;
  if (event.subtype === 'message_deleted') {
    const previous = event.previous_message;
    const deleted = event.deleted_ts ?? previous?.ts;
    if (deleted && (!previous || isAutomated(previous, meta))) {
      // Perhaps the statement of an open poll (an admin deleted it): its thread is told.
      const notice = await deps.service.statementDeleted(meta.scope, channel, deleted);
      if (notice) {
        await deps.port.postNotice(notice);
        return;
      }
    }
    if (deleted && deletesThread(previous, deleted, meta)) {
      // Perhaps a round's question, and with it the thread members reply in.
      const cancelled = await deps.service.threadDeleted(meta.scope, channel, deleted);
      if (cancelled) {
        deps.log.warn(
          { roundId: cancelled.id, scope: meta.scope },
          'the round’s question and thread are gone; round cancelled',
        );
        await tellRoundGone(deps.port, deps.log, cancelled, 'deleted');
        return;
      }
    }
    if (!previous && deleted) {
      // Slack omits previous_message for some deletions (very old messages, some clients):
      // the thread is unknown, so the channel's open rounds are asked for the message.
      await deps.service.removeReplyInChannel({
        scope: meta.scope,
        channelId: channel,
        messageId: deleted,
      });
      return;
    }
    if (
      !previous?.thread_ts ||
      !deleted ||
      previous.thread_ts === deleted ||
      isAutomated(previous, meta)
    ) {
      return;
    }
    await deps.service.removeReply({
      scope: meta.scope,
      channelId: channel,
      threadRootId: previous.thread_ts,
      messageId: deleted,
      eventId: meta.eventId,
    });
    return;
  }
  // An edit carries the whole new message; Slack also sends edits of thread roots (reply
  // counts) and link unfurls this way, which isMemberReply or the service sort out.
  const message: unknown =
    event.subtype === 'message_changed'
      ? event.message
      : REPLY_SUBTYPES.has(event.subtype)
        ? event
        : null;
  const reply = MessageSchema.safeParse(message);
  if (!reply.success || !isMemberReply(reply.data, meta)) return;
  const m = reply.data;
  const changed = event.subtype === 'message_changed';
  // Slack also reports changes nobody typed as message_changed: a link unfurled, a file's
  // preview. Those carry no new `edited` (none at all, or the one the previous message
  // had), so they are the message as last written, as the catch-up reads it: they may
  // still bring in a reply whose own event was lost, but never earn a member a note about
  // an edit they did not make ("your edit was not counted" after the round moved on).
  const editedAt = changed && m.edited ? (m.edited.ts ?? event.event_ts ?? m.ts) : null;
  const memberEdit = editedAt !== null && editedAt !== (event.previous_message?.edited?.ts ?? null);
  const replyEvent: ReplyEvent = {
    scope: meta.scope,
    channelId: channel,
    threadRootId: m.thread_ts,
    messageId: m.ts,
    userId: m.user,
    text: replyFromSlack(m.text ?? ''),
    at: tsToMs(m.ts),
    // Edits can arrive out of order; the edit's own time says which text is the latest.
    revision: revisionMs(m.ts, memberEdit ? editedAt : m.edited?.ts),
    eventId: meta.eventId,
  };
  const outcome = await deps.service.reply(replyEvent);
  // A change the member did not make speaks only for a reply new to the store.
  if (changed && !memberEdit && outcome.status !== 'recorded') return;
  if (outcome.notice) {
    const note =
      outcome.status === 'ignored' ? `Thanks for your reply. ${outcome.notice}` : outcome.notice;
    await deps.port.tell(channel, m.user, escapeKeepingMentions(note), m.thread_ts);
  }
}

/** A member's reaction on a statement is their rating; no bot's reactions count, ours or another app's. */
export async function onReaction(raw: unknown, meta: EventMeta, deps: EventDeps): Promise<void> {
  const parsed = ReactionEventSchema.safeParse(raw);
  if (!parsed.success) return;
  const event = parsed.data;
  if (event.user === meta.botUserId) return;
  const { channel, ts } = event.item;
  if (event.item.type !== 'message' || !channel || !ts) return;
  const optionKey = optionKeyFor(event.reaction);
  if (optionKey === null) return;
  // Slack's users.info only for a reaction that could be a rating: 👍 on any message of
  // the workspace arrives here too.
  if (!(await deps.service.isStatementMessage(meta.scope, channel, ts))) return;
  if (await deps.bots.isBot(event.user)) return;
  const removed = event.type === 'reaction_removed';
  try {
    await deps.service.react({
      scope: meta.scope,
      channelId: channel,
      messageId: ts,
      userId: event.user,
      optionKey,
      at: tsToMs(event.event_ts),
      removed,
      variant: event.reaction,
      eventId: meta.eventId,
    });
  } catch (error) {
    if (!(error instanceof DomainError) || error.code !== 'poll_closed') throw error;
    // Taking a reaction back from a closed poll needs no answer.
    if (!removed) {
      // In the round's thread, where the statement is: a reaction event does not say.
      const thread = error instanceof PollClosedError ? (error.thread?.messageId ?? null) : null;
      await deps.port.tell(channel, event.user, `Thanks for rating. ${error.message}`, thread);
    }
  }
}

const RateActionSchema = z.object({
  user: z.object({ id: z.string().min(1) }),
  channel: z.object({ id: z.string().min(1) }),
  message: z.object({ ts: z.string().min(1), thread_ts: z.string().optional() }),
  actions: z
    .array(
      z.object({
        action_id: z.string(),
        block_id: z.string().optional(),
        value: z.string().optional(),
        /** When the member clicked; clicks are handled concurrently, so this orders them. */
        action_ts: z.string().optional(),
      }),
    )
    .min(1),
});

/** A click's time from its action_ts ("1548426417.840180"); the receipt time if it has none. */
function clickTime(actionTs: string | undefined): number {
  const seconds = Number(actionTs);
  return actionTs && Number.isFinite(seconds) && seconds > 0
    ? Math.round(seconds * 1000)
    : Date.now();
}

/** An option's label ("agree", "3/7") from its key; the keys of the scales do not overlap. */

/**
 * A click on the button of an anonymous or hidden poll (block_actions): the member's
 * rating, answered only to them. Nothing about it is posted in the channel.
 */
export async function onRateAction(
  raw: unknown,
  meta: Omit<EventMeta, 'eventId'>,
  deps: EventDeps,
): Promise<void> {
  const parsed = RateActionSchema.safeParse(raw);
  if (!parsed.success) return;
  const { user, channel, message, actions } = parsed.data;
  const optionKey = actions[0]?.value;
  if (!optionKey) return;
  const hidden = actions[0]?.block_id === RATE_HIDDEN_BLOCK_ID;
  const thread = message.thread_ts ?? null;
  try {
    const outcome = await deps.service.react({
      scope: meta.scope,
      channelId: channel.id,
      messageId: message.ts,
      userId: user.id,
      optionKey,
      // Two quick clicks can be handled in either order: the later click must win.
      at: clickTime(actions[0]?.action_ts),
      removed: false,
      source: 'button',
    });
    if (outcome.status === 'recorded') {
      await deps.port.tell(
        channel.id,
        user.id,
        ratedNote(hidden ? 'hidden' : 'anonymous', optionKey),
        thread,
      );
    }
  } catch (error) {
    if (error instanceof DomainError && error.code === 'poll_closed') {
      await deps.port.tell(channel.id, user.id, error.message, thread);
      return;
    }
    if (!(error instanceof DomainError)) {
      // The click was acknowledged before it was handled, and no reread finds it (a buttons
      // poll's ratings are on no message): unanswered, the member takes it as counted.
      await deps.port.tell(channel.id, user.id, CLICK_FAILED, thread).catch(() => undefined);
    }
    throw error;
  }
}

/** Said to a member whose click failed for no rule (Redis away, a bug). */
const CLICK_FAILED =
  'Sorry, something went wrong on my side and your click was not counted. Please click again in a moment.';

/**
 * Told to a round's starter when the bot was removed from its channel: the round stays
 * open, but nothing said there reaches the bot until it is invited back.
 */
function botRemovedText(round: Round): string {
  return `The bot was removed from ${openRoundIn(round)}. Invite it back (mention it there and choose “Invite”): it then reads what was said meanwhile. If it is not back when the round next has to post there, the round is cancelled.`;
}

/** The events that say a round's channel is gone for good: archived or deleted. */
const CHANNEL_CLOSED_EVENTS = [
  'channel_archive',
  'channel_deleted',
  'group_archive',
  'group_deleted',
] as const;

/**
 * The events that say the bot was removed from a channel. Slack says channel_left "is
 * sometimes withheld", so a member_left_channel naming the bot itself counts too.
 */
const BOT_REMOVED_EVENTS = ['channel_left', 'group_left', 'member_left_channel'] as const;

/** Every event about a channel going out of the bot's reach, for the app to listen to. */
export const CHANNEL_GONE_EVENTS = [...CHANNEL_CLOSED_EVENTS, ...BOT_REMOVED_EVENTS] as const;

const ChannelGoneEventSchema = z.object({
  type: z.enum(CHANNEL_GONE_EVENTS),
  channel: z.string().min(1),
  /** member_left_channel only: who left. */
  user: z.string().nullish(),
});

/**
 * An archived or deleted channel's open rounds are cancelled now, not when the next post
 * into it fails (a close, maybe days later); the channel cannot be told, so each round's
 * starter is. A removal of the bot can be undone, so its rounds stay open and their
 * starters are asked to invite it back (it then rereads them: `isBotJoining`).
 */
export async function onChannelGone(
  raw: unknown,
  meta: Pick<EventMeta, 'scope' | 'botUserId'>,
  deps: Pick<EventDeps, 'service' | 'port' | 'log'>,
): Promise<void> {
  const parsed = ChannelGoneEventSchema.safeParse(raw);
  if (!parsed.success) return;
  const { type, channel, user } = parsed.data;
  // Members come and go all the time; only the bot's own leaving concerns its rounds.
  if (type === 'member_left_channel' && (!user || user !== meta.botUserId)) return;
  if ((BOT_REMOVED_EVENTS as readonly string[]).includes(type)) {
    await tellBotRemoved(meta.scope, channel, deps, { event: type });
    return;
  }
  await cancelForChannelClosed(meta.scope, channel, deps, { event: type });
}

/**
 * The channel is archived or deleted (its event, or found at a catch-up): its open rounds
 * are cancelled, and each starter is told, since the channel cannot be.
 */
export async function cancelForChannelClosed(
  scope: Scope,
  channel: string,
  deps: Pick<EventDeps, 'service' | 'port' | 'log'>,
  fields: Record<string, unknown>,
): Promise<void> {
  for (const round of await deps.service.channelGone(scope, channel)) {
    deps.log.warn(
      { scope, ...fields, roundId: round.id },
      'the round’s channel is gone; round cancelled',
    );
    await tellRoundGone(deps.port, deps.log, round, 'channel');
  }
}

/**
 * The bot is out of a channel (its event, or found at a catch-up): each open round's
 * starter is asked to invite it back, once within `toldForSeconds`; the rounds stay open.
 */
export async function tellBotRemoved(
  scope: Scope,
  channel: string,
  deps: Pick<EventDeps, 'service' | 'port' | 'log'>,
  fields: Record<string, unknown>,
  toldForSeconds?: number,
): Promise<void> {
  const ids = { scope, ...fields };
  for (const round of await deps.service.botRemoved(scope, channel, toldForSeconds)) {
    deps.log.warn({ ...ids, roundId: round.id }, 'the bot was removed from a round’s channel');
    await deps.port.directMessage(round.createdBy, botRemovedText(round)).catch((error) => {
      deps.log.warn(
        { ...ids, roundId: round.id, err: errorMessage(error) },
        'could not tell the member who started the round that the bot was removed',
      );
    });
  }
}

const MemberJoinedSchema = z.object({ type: z.literal('member_joined_channel'), user: z.string() });

/** A member_joined_channel that is the bot itself joining (invited, or invited back). */
export function isBotJoining(raw: unknown, meta: Pick<EventMeta, 'botUserId'>): boolean {
  const parsed = MemberJoinedSchema.safeParse(raw);
  return parsed.success && meta.botUserId !== null && parsed.data.user === meta.botUserId;
}
