import {
  type AnyThreadChannel,
  type Client,
  type ClientEvents,
  type DMChannel,
  Events,
  type Guild,
  type GuildMember,
  type Message,
  type MessageReaction,
  MessageType,
  type NonThreadGuildBasedChannel,
  type PartialGuildMember,
  type PartialMessage,
  type PartialMessageReaction,
  type PartialUser,
  type PermissionsString,
  RESTJSONErrorCodes,
  type Role,
  Status,
  type User,
} from 'discord.js';
import type { PlatformService } from '../../deliberation/ports.js';
import { tellRoundGone } from '../../deliberation/round-gone.js';
import {
  type DeliberationService,
  REMOVAL_REMINDER_SECONDS,
  type ReplyOutcome,
} from '../../deliberation/service.js';
import { DomainError } from '../../domain/errors.js';
import type { Log } from '../../domain/log.js';
import type { Scope } from '../../domain/scope.js';
import { CATCH_UP_LIMITS, CatchUp, type CatchUpLimits } from './catch-up.js';
import { ROUND_PERMISSIONS } from './client.js';
import type { DiscordPlatform } from './discord-platform.js';
import { optionKeyFor, reactionVariant, variantEmoji } from './emoji.js';
import { describeError, hasDiscordCode } from './errors.js';
import { risingClock } from './event-clock.js';
import { Interactions, type InteractionsOptions } from './interactions.js';
import {
  type EarlierState,
  heldRoleIds,
  mayRead,
  type PermissionShift,
  permissionShifts,
  shiftOf,
} from './permissions.js';
import { RecentSet } from './recent-set.js';
import { lostPermissionsText } from './render.js';
import { clearedKey, ReplayGuard, reactionKey } from './replay-guard.js';
import { TaskQueue } from './task-queue.js';
import { replyFromDiscord } from './text.js';

// Importers reach these through bot.js, from before interactions.ts split off.
export { DEFAULT_DEFER_AFTER_MS, OUTSIDE_GUILD_TEXT } from './interactions.js';

/**
 * The parts of the service the Discord adapter calls: every adapter's, and what it needs to
 * catch up after being offline, to follow reactions removed in bulk, and deleted threads
 * and channels.
 */
export type DiscordService = PlatformService &
  Pick<
    DeliberationService,
    | 'firstDelivery'
    | 'openRounds'
    | 'pollReactions'
    | 'threadDeleted'
    | 'channelGone'
    | 'botRemoved'
    | 'botBack'
    | 'statementDeleted'
  >;

export interface DiscordBotOptions
  extends Pick<InteractionsOptions, 'moderatorRoles' | 'deferAfterMs' | 'maxRequestBytes'> {
  client: Client;
  platform: DiscordPlatform;
  service: DiscordService;
  log: Log;
  now?: () => number;
  /** Bounds on what catching up after a restart may read per round (tests make them small). */
  catchUpLimits?: Partial<CatchUpLimits>;
}

/** Where a member's message sits: the guild, and the thread and channel it belongs to. */
interface ThreadPlace {
  scope: Scope;
  parentId: string;
  threadId: string;
}

/**
 * Gateway events -> service calls; slash commands and buttons are handed to `Interactions`,
 * which answers them. Events of one channel are handled one after another, in arrival order,
 * so a quick edit or removal can never overtake the message or reaction it changes.
 */
export class DiscordBot {
  private readonly client: Client;
  private readonly service: DiscordService;
  private readonly platform: DiscordPlatform;
  private readonly log: Log;
  private readonly now: () => number;
  private readonly guard = new ReplayGuard();
  private readonly tasks: TaskQueue;
  private readonly notified = new RecentSet(5_000);
  private readonly detachers: (() => void)[] = [];
  private readonly catchUp: CatchUp;
  private readonly interactions: Interactions;
  private readonly afterFailureMs: number;
  /** Rereads set off by failed events, one per guild at a time. */
  private readonly rereads = new Map<string, NodeJS.Timeout>();
  private detached = false;

  constructor(options: DiscordBotOptions) {
    this.client = options.client;
    this.service = options.service;
    this.platform = options.platform;
    this.log = options.log;
    // Events stamped in the order they arrive: a member's later reaction wins, even in one ms.
    this.now = risingClock(options.now ?? Date.now);
    this.tasks = new TaskQueue(this.log);
    this.afterFailureMs = options.catchUpLimits?.afterFailureMs ?? CATCH_UP_LIMITS.afterFailureMs;
    this.catchUp = new CatchUp({
      rest: this.client.rest,
      service: this.service,
      log: this.log,
      now: this.now,
      botUserId: () => this.client.user?.id ?? null,
      tell: (outcome, place) => this.tellAt(outcome, place),
      ...(options.catchUpLimits && { limits: options.catchUpLimits }),
    });
    this.interactions = new Interactions({
      service: this.service,
      log: this.log,
      moderatorRoles: options.moderatorRoles,
      deferAfterMs: options.deferAfterMs,
      maxRequestBytes: options.maxRequestBytes,
      now: this.now,
      isReplay: (key) => this.guard.isReplay(key),
    });
  }

  attach(): void {
    const onRaw = (packet: unknown, shardId: unknown) =>
      this.guard.observe(packet, typeof shardId === 'number' ? shardId : 0);
    this.client.on(Events.Raw, onRaw);
    this.detachers.push(() => this.client.off(Events.Raw, onRaw));
    this.listen(Events.MessageCreate, (m) => this.onMessageCreate(m));
    this.listen(Events.MessageUpdate, (_old, m) => this.onMessageUpdate(m));
    this.listen(Events.MessageDelete, (m) => this.onMessageDelete(m));
    this.listen(Events.MessageBulkDelete, (messages) => {
      for (const m of messages.values()) this.onMessageDelete(m);
    });
    this.listen(Events.ThreadDelete, (thread) => this.onThreadDelete(thread));
    this.listen(Events.ChannelDelete, (channel) => this.onChannelDelete(channel));
    this.listen(Events.ChannelUpdate, (before, after) => this.onChannelUpdate(before, after));
    this.listen(Events.GuildRoleUpdate, (before, after) => this.onRoleUpdate(before, after));
    this.listen(Events.GuildMemberUpdate, (before, after) => this.onMemberUpdate(before, after));
    this.listen(Events.GuildRoleDelete, (role) => this.onRoleDelete(role));
    // A channel the bot sees again (its View Channel given back): what was said there
    // meanwhile never reached it, so that channel's open rounds are read back.
    this.listen(Events.ChannelCreate, (channel) =>
      this.tasks.track(this.catchUpGuild(channel.guild, [channel.id])),
    );
    this.listen(Events.MessageReactionAdd, (r, u, details) =>
      this.onReaction(r, u, details.burst === true, false),
    );
    this.listen(Events.MessageReactionRemove, (r, u, details) =>
      this.onReaction(r, u, details.burst === true, true),
    );
    this.listen(Events.MessageReactionRemoveAll, (m) => this.onReactionsCleared(m, null));
    this.listen(Events.MessageReactionRemoveEmoji, (r) =>
      this.onReactionsCleared(r.message, r.emoji.id ?? r.emoji.name ?? ''),
    );
    this.listen(Events.InteractionCreate, (i) => {
      const work = this.interactions.handle(i);
      if (work) this.tasks.track(work);
    });
    // A fresh session (the first, or after Discord refused to resume one) follows a gap in
    // which events were lost; a resumed session replays them, so it needs no catch-up.
    this.listen(Events.ShardReady, (shardId) => this.onSessionStart(shardId));
    // Discord sends nothing of a server while the bot is out of it (kicked, then invited
    // back) or while the server is down for Discord (an outage), and members may have
    // replied and rated meanwhile; neither starts a session. At a session's start the
    // guilds become available too, but ShardReady catches those up.
    this.listen(Events.GuildCreate, (guild) => this.tasks.track(this.catchUpGuild(guild)));
    this.listen(Events.GuildAvailable, (guild) => {
      if (this.client.ws.status === Status.Ready) this.tasks.track(this.catchUpGuild(guild));
    });
  }

  detach(): void {
    this.detached = true;
    for (const detach of this.detachers.splice(0)) detach();
    for (const timer of this.rereads.values()) clearTimeout(timer);
    this.rereads.clear();
  }

  private listen<E extends keyof ClientEvents>(
    event: E,
    listener: (...args: ClientEvents[E]) => void,
  ): void {
    this.client.on(event, listener);
    this.detachers.push(() => this.client.off(event, listener));
  }

  /** Resolves when every event and command received so far has been handled. */
  idle(): Promise<void> {
    return this.tasks.idle();
  }

  // ---- messages in round threads --------------------------------------------------------

  private onMessageCreate(message: Message): void {
    if (this.guard.isReplay(`MESSAGE_CREATE:${message.id}`)) return;
    const place = this.placeOf(message);
    if (!place || !isMemberMessage(message)) return;
    this.handleInOrder(place.threadId, place.scope.workspaceId, async () => {
      const outcome = await this.service.reply({
        ...replyIn(place, message),
        eventId: `msg.${message.id}`,
      });
      await this.tell(outcome, message);
    });
  }

  private onMessageUpdate(updated: Message | PartialMessage): void {
    if (this.guard.isReplay(`MESSAGE_UPDATE:${updated.id}`)) return;
    const place = this.placeOf(updated);
    if (!place) return;
    this.handleInOrder(place.threadId, place.scope.workspaceId, async () => {
      // Gone meanwhile (Unknown Message): nothing to read. Any other failure is thrown, so
      // the open rounds are reread (handleInOrder) and the edit is not lost.
      const message = updated.partial ? await updated.fetch().catch(unlessUnknownMessage) : updated;
      // No edited_timestamp: an embed unfurled or a pin changed, not the member's text.
      if (!message || message.editedTimestamp === null || !isMemberMessage(message)) return;
      const outcome = await this.service.reply({
        ...replyIn(place, message),
        // Edits fetched or delivered out of order: the newest edit wins.
        revision: message.editedTimestamp,
        eventId: `edit.${message.id}.${message.editedTimestamp}`,
      });
      await this.tell(outcome, message);
    });
  }

  private onMessageDelete(message: Message | PartialMessage): void {
    if (this.guard.isReplay(`MESSAGE_DELETE:${message.id}`)) return;
    const place = this.placeOf(message);
    if (!place) return;
    this.handleInOrder(place.threadId, place.scope.workspaceId, async () => {
      // The statement of an open poll (a moderator deleted it): its thread is told.
      const notice = await this.service.statementDeleted(place.scope, place.threadId, message.id);
      if (notice) {
        await this.platform.postNotice(notice);
        return;
      }
      await this.service.removeReply({
        scope: place.scope,
        channelId: place.parentId,
        threadRootId: place.threadId,
        messageId: message.id,
      });
    });
  }

  /**
   * A gateway event's work, in its channel's order. The gateway never delivers an event
   * again once the bot has it, so one whose handling failed for no rule of the service's (a
   * Redis error, say) would be lost for good: the guild's open rounds are reread a little
   * later instead, once for a burst of failures, as a fresh session's catch-up does.
   */
  private handleInOrder(key: string, guildId: string, task: () => Promise<void>): void {
    void this.tasks.inOrder(key, async () => {
      try {
        await task();
      } catch (error) {
        if (!(error instanceof DomainError)) {
          this.rereadSoon(
            guildId,
            error,
            'a Discord event could not be handled; the open rounds will be reread',
          );
        }
        throw error;
      }
    });
  }

  private rereadSoon(guildId: string, error: unknown, message: string): void {
    if (this.detached || this.rereads.has(guildId)) return;
    const timer = setTimeout(() => {
      this.rereads.delete(guildId);
      const guild = this.client.guilds.cache.get(guildId);
      if (guild?.available) this.tasks.track(this.catchUpGuild(guild));
    }, this.afterFailureMs);
    timer.unref();
    this.rereads.set(guildId, timer);
    this.log.warn({ guildId, ...describeError(error), rereadInMs: this.afterFailureMs }, message);
  }

  /**
   * A moderator deleted a thread: if it was a round's, the round is cancelled at once and
   * the channel told, rather than when the next post into it fails (after a close, a
   * whole pipeline run later). A thread discord.js had not cached sends no event; the
   * publisher's ThreadGoneError covers that.
   */
  private onThreadDelete(thread: AnyThreadChannel): void {
    const { guildId, parentId } = thread;
    if (!parentId) return;
    const scope = { platform: 'discord' as const, workspaceId: guildId };
    void this.tasks.inOrder(thread.id, async () => {
      const cancelled = await this.service.threadDeleted(scope, parentId, thread.id);
      if (!cancelled) return;
      this.log.warn(
        { roundId: cancelled.id, scope },
        'the round’s thread is gone; round cancelled',
      );
      await tellRoundGone(this.platform, this.log, cancelled, 'deleted');
    });
  }

  /**
   * A channel was deleted: its open rounds are cancelled at once, and since the channel
   * cannot be told, each round's starter hears it by direct message (otherwise the round
   * would wait for a close that can never post anything).
   */
  private onChannelDelete(channel: DMChannel | NonThreadGuildBasedChannel): void {
    if (channel.isDMBased()) return;
    const scope = { platform: 'discord' as const, workspaceId: channel.guildId };
    void this.tasks.inOrder(channel.id, async () => {
      // The event alone does not prove the channel is gone: asked, Discord tells a deleted
      // channel (Unknown Channel) from one only hidden from the bot (Missing Access).
      const state = await this.platform.channelState(channel.id);
      if (state === 'visible') return;
      if (state === 'hidden') {
        await this.tellLostSight(scope, channel.id);
        return;
      }
      const cancelled = await this.service.channelGone(scope, channel.id);
      for (const round of cancelled) {
        this.log.warn({ roundId: round.id, scope }, 'the round’s channel is gone; round cancelled');
        await tellRoundGone(this.platform, this.log, round, 'channel');
      }
    });
  }

  /**
   * A channel's permission overwrites changed. A permission a round needs, lost, is told to
   * the starters of the channel's open rounds now (Discord says nothing else until a post
   * fails); View Channel given back reads the channel's rounds back, as a reappearing
   * channel does.
   */
  private onChannelUpdate(
    before: DMChannel | NonThreadGuildBasedChannel,
    after: DMChannel | NonThreadGuildBasedChannel,
  ): void {
    if (before.isDMBased() || after.isDMBased()) return;
    const me = after.guild.members.me;
    if (!me) return;
    const missingBefore = before.permissionsFor(me)?.missing([...ROUND_PERMISSIONS]) ?? [];
    const missing = after.permissionsFor(me)?.missing([...ROUND_PERMISSIONS]) ?? [];
    this.followShift(after.guild, shiftOf(after.id, missingBefore, missing));
  }

  /**
   * The bot's roles changed (Discord sends the bot's own member updates without the Guild
   * Members intent), or the permissions of a role it holds (@everyone included): each
   * channel where that took or gave back what a round needs is followed as for an overwrite.
   */
  private onRolesChanged(guild: Guild, earlier: EarlierState): void {
    const me = guild.members.me;
    if (!me) return;
    const shifts = permissionShifts(guild, me, earlier);
    if (shifts.length === 0) return;
    // One @everyone edit can shift every channel of a large server: the ones with an open
    // round are found in one read, and only those are followed.
    const scope: Scope = { platform: 'discord', workspaceId: guild.id };
    const follow = async () => {
      const open = await this.service.openRounds(
        scope,
        shifts.map((s) => s.channelId),
      );
      const withRounds = new Set(open.map((state) => state.round.channelId));
      const followed = shifts.filter((s) => withRounds.has(s.channelId));
      for (const shift of followed) this.followShift(guild, shift, false);
      const regained = followed.filter((s) => s.readRegained).map((s) => s.channelId);
      if (regained.length > 0) await this.catchUpGuild(guild, regained);
    };
    this.tasks.track(
      follow().catch((error: unknown) =>
        this.rereadSoon(
          guild.id,
          error,
          'a role change could not be followed; the open rounds will be reread',
        ),
      ),
    );
  }

  /** A role the bot held was deleted: what it gave is gone with it. */
  private onRoleDelete(role: Role): void {
    const me = role.guild.members.me;
    if (!me) return;
    const held = heldRoleIds(me);
    if (!held.includes(role.id)) return;
    this.onRolesChanged(role.guild, {
      role: { id: role.id, bits: role.permissions.bitfield },
      memberRoleIds: held.filter((id) => id !== role.guild.id),
    });
  }

  private onRoleUpdate(before: Role, after: Role): void {
    if (before.permissions.bitfield === after.permissions.bitfield) return;
    const me = after.guild.members.me;
    if (after.id !== after.guild.id && !me?.roles.cache.has(after.id)) return;
    this.onRolesChanged(after.guild, {
      role: { id: before.id, bits: before.permissions.bitfield },
    });
  }

  private onMemberUpdate(before: GuildMember | PartialGuildMember, after: GuildMember): void {
    if (after.id !== this.client.user?.id || before.partial) return;
    const earlier = [...before.roles.cache.keys()].filter((id) => id !== after.guild.id);
    this.onRolesChanged(after.guild, { memberRoleIds: earlier });
  }

  /** `readBack` false: the caller reads the channels back itself, several at once. */
  private followShift(guild: Guild, shift: PermissionShift, readBack = true): void {
    const scope = { platform: 'discord' as const, workspaceId: guild.id };
    const { channelId, lost } = shift;
    if (lost) {
      void this.tasks.inOrder(channelId, () => this.tellLostSight(scope, channelId, lost));
    }
    // All back: a next loss is told anew. In the channel's order, so after any earlier tell.
    if (shift.restored) {
      void this.tasks.inOrder(channelId, () => this.service.botBack(scope, channelId));
    }
    if (readBack && shift.readRegained) this.tasks.track(this.catchUpGuild(guild, [channelId]));
  }

  /**
   * The bot lost sight of a channel, or permissions a round needs in it (`missing`): its
   * open rounds stay open, their starters are told once.
   */
  private async tellLostSight(
    scope: Scope,
    channelId: string,
    missing: readonly string[] = ['ViewChannel'],
    toldForSeconds?: number,
  ): Promise<void> {
    for (const round of await this.service.botRemoved(scope, channelId, toldForSeconds)) {
      this.log.warn(
        { roundId: round.id, scope, missing },
        'the bot lost permissions in a round’s channel',
      );
      await this.platform
        .directMessage(round.createdBy, lostPermissionsText(round, missing))
        .catch((error: unknown) =>
          this.log.warn(
            { roundId: round.id, scope, ...describeError(error) },
            'could not tell the member who started the round that the bot lost the channel',
          ),
        );
    }
  }

  /** What a round needs that the bot lacks now in a channel (none known: nothing). */
  private missingIn(guild: Guild, channelId: string): PermissionsString[] {
    const me = guild.members.me;
    const channel = guild.channels.cache.get(channelId);
    if (!me || !channel) return [];
    return channel.permissionsFor(me).missing([...ROUND_PERMISSIONS]);
  }

  /** Only messages in a thread count; the service then checks that it is a round's thread. */
  private placeOf(message: Message | PartialMessage): ThreadPlace | null {
    const guildId = message.guildId;
    const channel = message.channel;
    if (!guildId || !channel?.isThread() || !channel.parentId) return null;
    return {
      scope: { platform: 'discord', workspaceId: guildId },
      parentId: channel.parentId,
      threadId: channel.id,
    };
  }

  /** Tells a member what the service wants them to know, once per round and notice. */
  private async tell(outcome: ReplyOutcome, message: Message): Promise<void> {
    await this.tellAt(outcome, {
      channelId: message.channelId,
      messageId: message.id,
      userId: message.author.id,
    });
  }

  private async tellAt(
    outcome: ReplyOutcome,
    place: { channelId: string; messageId: string; userId: string },
  ): Promise<void> {
    if (!outcome.notice) return;
    if (!this.notified.add(`${outcome.roundId}:${place.userId}:${outcome.notice}`)) return;
    await this.platform.replyTo(place.channelId, place.messageId, outcome.notice);
  }

  // ---- reactions on statements ------------------------------------------------------------

  private onReaction(
    reaction: MessageReaction | PartialMessageReaction,
    user: User | PartialUser,
    burst: boolean,
    removed: boolean,
  ): void {
    const emoji = reaction.emoji.id ?? reaction.emoji.name ?? '';
    const type = removed ? 'MESSAGE_REACTION_REMOVE' : 'MESSAGE_REACTION_ADD';
    if (this.guard.isReplay(reactionKey(type, reaction.message.id, user.id, emoji, burst))) return;
    // The bot's own poll reactions, and any bot's, are never ratings.
    if (user.id === this.client.user?.id || user.bot === true) return;
    const optionKey = optionKeyFor(reaction.emoji.name, reaction.emoji.id);
    const guildId = reaction.message.guildId;
    if (optionKey === null || !guildId) return;
    const at = this.now();
    const { channelId, id: messageId } = reaction.message;
    const event = {
      scope: { platform: 'discord' as const, workspaceId: guildId },
      channelId,
      messageId,
      userId: user.id,
      optionKey,
      at,
      removed,
      // 👍 and 👍🏽 are two reactions on Discord, and so are a normal and a super 👍:
      // each is added and removed on its own.
      variant: reactionVariant(emoji, burst),
    };
    // The publisher links a statement before its poll reactions are added, so a member
    // reacting as soon as they see them finds it linked.
    this.handleInOrder(channelId, guildId, async () => {
      try {
        await this.service.react(event);
      } catch (error) {
        if (!(error instanceof DomainError && error.code === 'poll_closed')) throw error;
        // Discord has no private answer to a reaction: one reply to the closed poll says
        // it for everyone, naming nobody, however many react after it.
        if (removed || !this.notified.add(`closed:${messageId}`)) return;
        await this.platform.replyTo(channelId, messageId, LATE_REACTION_NOTICE);
      }
    });
  }

  /**
   * A moderator (or a bot) removed every reaction of a message, or every one of an emoji
   * (`variant`): Discord says no more than that, so the ratings stored under those
   * reactions are taken back one by one. Never the bot's own, which are never stored.
   */
  private onReactionsCleared(message: Message | PartialMessage, variant: string | null): void {
    const type = variant === null ? 'MESSAGE_REACTION_REMOVE_ALL' : 'MESSAGE_REACTION_REMOVE_EMOJI';
    if (this.guard.isReplay(clearedKey(type, message.id, variant))) return;
    const guildId = message.guildId;
    if (!guildId) return;
    const scope: Scope = { platform: 'discord', workspaceId: guildId };
    const { channelId, id: messageId } = message;
    const at = this.now();
    this.handleInOrder(channelId, guildId, async () => {
      const stored = await this.service.pollReactions(scope, channelId, messageId);
      if (!stored) return;
      try {
        for (const { userId, optionKey, variant: kept } of stored.reactions) {
          // Removing an emoji takes its normal and its super reactions alike.
          if (variant !== null && variantEmoji(kept) !== variant) continue;
          const reaction = { userId, optionKey, variant: kept };
          await this.service.react({ scope, channelId, messageId, at, removed: true, ...reaction });
        }
      } catch (error) {
        if (error instanceof DomainError && error.code === 'poll_closed') return;
        throw error;
      }
      this.log.info(
        { roundId: stored.roundId, version: stored.version, variant },
        'reactions cleared from a statement',
      );
    });
  }

  // ---- catching up after a gap ------------------------------------------------------------

  private onSessionStart(shardId: number): void {
    for (const guild of this.client.guilds.cache.values()) {
      if (guild.shardId === shardId && guild.available) this.tasks.track(this.catchUpGuild(guild));
    }
  }

  /**
   * Reads back what happened in the guild's open rounds while no session was up. Rounds
   * go one at a time, each in its thread's queue, so live events wait for it and nothing
   * read from Discord can overtake them.
   */
  private async catchUpGuild(
    guild: Guild,
    onlyChannels: readonly string[] | null = null,
  ): Promise<void> {
    const scope: Scope = { platform: 'discord', workspaceId: guild.id };
    const channelIds = [...guild.channels.cache.values()]
      .filter((c) => !c.isThread() && (onlyChannels === null || onlyChannels.includes(c.id)))
      .map((c) => c.id);
    const open = await this.service.openRounds(scope, channelIds).catch((error: unknown) => {
      // Redis away at a session's start or at a reread: what happened meanwhile is only
      // found by reading back, so the reread is tried again a little later.
      this.rereadSoon(guild.id, error, 'could not read the open rounds; they will be reread');
      throw error;
    });
    const rounds = open.slice(0, CATCH_UP_ROUNDS_PER_GUILD);
    if (open.length > rounds.length) {
      this.log.warn(
        { guildId: guild.id, open: open.length, caughtUp: rounds.length },
        'more open rounds than catch-up reads; the rest only get events from now on',
      );
    }
    const checked = new Set<string>();
    for (const state of rounds) {
      const threadId = state.round.questionRef?.threadId;
      if (!threadId) continue;
      const { channelId } = state.round;
      const missing = this.missingIn(guild, channelId);
      if (!checked.has(channelId)) {
        checked.add(channelId);
        // Taken while no session was up, nothing else would say so before a post fails;
        // given back meanwhile, a next loss is told anew.
        await this.tasks.inOrder(channelId, () =>
          missing.length > 0
            ? this.tellLostSight(scope, channelId, missing, REMOVAL_REMINDER_SECONDS)
            : this.service.botBack(scope, channelId),
        );
      }
      // Without View Channel Discord refuses the reads; without Read Message History it
      // lists no message, which would read as every reply deleted. The channel is read
      // back once both are given back.
      if (!mayRead(missing)) continue;
      await this.tasks.inOrder(threadId, async () => {
        await this.knowThread(guild, threadId);
        const report = await this.catchUp.round(scope, state);
        this.log.info({ guildId: guild.id, ...report }, 'caught up on a round');
      });
    }
  }

  /**
   * A session's start lists only active threads: a round's thread archived meanwhile is
   * unknown to discord.js, which then drops its events (no parent to place them by) until
   * a THREAD_UPDATE says it reopened, and a member's post may arrive before that.
   */
  private async knowThread(guild: Guild, threadId: string): Promise<void> {
    if (guild.channels.cache.has(threadId)) return;
    // Deleted or out of sight: the round's own read finds that out and says so.
    await this.client.channels.fetch(threadId).catch(() => null);
  }
}

/** The reply to the first reaction added to a poll that has closed. */
export const LATE_REACTION_NOTICE = 'This poll is closed; reactions added now are not counted.';

/** Open rounds read back per guild after a gap; more than this many at once is unusual. */
const CATCH_UP_ROUNDS_PER_GUILD = 50;

/** The names Discord sent with a message for the members it mentions. */
function mentionedNames(message: Message): Map<string, string> {
  return new Map(message.mentions.users.map((user) => [user.id, user.displayName]));
}

/** A member's message in a round thread as the service reads it (a new reply or an edit). */
function replyIn(place: ThreadPlace, message: Message) {
  return {
    scope: place.scope,
    channelId: place.parentId,
    threadRootId: place.threadId,
    messageId: message.id,
    userId: message.author.id,
    text: replyFromDiscord(message.content, mentionedNames(message)),
    at: message.createdTimestamp,
  };
}

function isMemberMessage(message: Message): boolean {
  return (
    !message.author.bot &&
    message.webhookId === null &&
    !message.system &&
    (message.type === MessageType.Default || message.type === MessageType.Reply)
  );
}

/** null for a message Discord no longer has (deleted meanwhile); any other error rethrown. */
function unlessUnknownMessage(error: unknown): null {
  if (hasDiscordCode(error, RESTJSONErrorCodes.UnknownMessage)) return null;
  throw error;
}
