import {
  type APIEmbed,
  type APIInteractionGuildMember,
  type ButtonInteraction,
  ChannelType,
  type ChatInputCommandInteraction,
  type Client,
  type ClientEvents,
  Events,
  type Guild,
  type GuildMember,
  type Interaction,
  type Message,
  MessageFlags,
  type MessageReaction,
  MessageType,
  type PartialMessage,
  type PartialMessageReaction,
  type PartialUser,
  PermissionFlagsBits,
  type User,
} from 'discord.js';
import { polisExportFiles } from '../../deliberation/polis-export.js';
import type { Actor, PlatformService } from '../../deliberation/ports.js';
import type { DeliberationService, ReplyOutcome } from '../../deliberation/service.js';
import { DomainError } from '../../domain/errors.js';
import type { Log } from '../../domain/log.js';
import type { Scope } from '../../domain/scope.js';
import { CatchUp, type CatchUpLimits } from './catch-up.js';
import { BOT_PERMISSIONS } from './client.js';
import {
  COMMAND_NAME,
  type ConsensusCommand,
  parseCommand,
  StaleCommandError,
} from './commands.js';
import type { DiscordPlatform } from './discord-platform.js';
import { optionKeyFor } from './emoji.js';
import { describeError } from './errors.js';
import {
  HELP_TEXT,
  parseRateButton,
  type RateButtonKind,
  resultsEmbed,
  statusEmbed,
} from './render.js';
import { clearedKey, ReplayGuard, reactionKey } from './replay-guard.js';

/** How long a click on a just-posted statement waits for its link: 5 x 100 ms. */
const LINK_RETRIES = 5;
const LINK_RETRY_MS = 100;

/**
 * The parts of the service the Discord adapter calls: every adapter's, and what it needs to
 * catch up after being offline and to follow reactions removed in bulk.
 */
export type DiscordService = PlatformService &
  Pick<DeliberationService, 'openRounds' | 'pollReactions'>;

export interface DiscordBotOptions {
  client: Client;
  platform: DiscordPlatform;
  service: DiscordService;
  log: Log;
  /** Role ids or names whose members are moderators (besides Manage Server / Manage Messages). */
  moderatorRoles: readonly string[];
  /**
   * Discord forgets an interaction not answered within 3 s of sending it. Work that
   * has not finished by this time is deferred ("thinking…") and answered by an edit.
   */
  deferAfterMs?: number;
  now?: () => number;
  /** Bounds on what catching up after a restart may read per round (tests make them small). */
  catchUpLimits?: Partial<CatchUpLimits>;
}

/** Leaves room for the round trip to Discord inside its 3 s. */
export const DEFAULT_DEFER_AFTER_MS = 1_500;

export const OUTSIDE_GUILD_TEXT =
  'Consensus rounds run in servers: use `/consensus` in a text channel of a server the bot is a member of. It does nothing in direct messages.';
const INTERNAL_ERROR_TEXT = 'Something went wrong on my side; please try again in a moment.';

interface Answer {
  ephemeral: boolean;
  content?: string;
  embeds?: APIEmbed[];
  files?: { name: string; attachment: Buffer }[];
}

/** Where a member's message sits: the guild, and the thread and channel it belongs to. */
interface ThreadPlace {
  scope: Scope;
  parentId: string;
  threadId: string;
}

/**
 * Gateway events -> service calls, and slash commands -> service calls with answers.
 * Events of one channel are handled one after another, in arrival order, so a quick
 * edit or removal can never overtake the message or reaction it changes.
 */
export class DiscordBot {
  private readonly client: Client;
  private readonly service: DiscordService;
  private readonly platform: DiscordPlatform;
  private readonly log: Log;
  private readonly moderatorRoles: string[];
  private readonly deferAfterMs: number;
  private readonly now: () => number;
  private readonly guard = new ReplayGuard();
  private readonly chains = new Map<string, Promise<void>>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly seenInteractions = new RecentSet(2_000);
  private readonly notified = new RecentSet(5_000);
  private readonly detachers: (() => void)[] = [];
  private readonly catchUp: CatchUp;

  constructor(options: DiscordBotOptions) {
    this.client = options.client;
    this.service = options.service;
    this.platform = options.platform;
    this.log = options.log;
    this.moderatorRoles = options.moderatorRoles.map((r) => r.trim().toLowerCase());
    this.deferAfterMs = options.deferAfterMs ?? DEFAULT_DEFER_AFTER_MS;
    this.now = options.now ?? Date.now;
    this.catchUp = new CatchUp({
      rest: this.client.rest,
      service: this.service,
      log: this.log,
      now: this.now,
      botUserId: () => this.client.user?.id ?? null,
      tell: (outcome, place) => this.tellAt(outcome, place),
      ...(options.catchUpLimits && { limits: options.catchUpLimits }),
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
    this.listen(Events.MessageReactionAdd, (r, u) => this.onReaction(r, u, false));
    this.listen(Events.MessageReactionRemove, (r, u) => this.onReaction(r, u, true));
    this.listen(Events.MessageReactionRemoveAll, (m) => this.onReactionsCleared(m, null));
    this.listen(Events.MessageReactionRemoveEmoji, (r) =>
      this.onReactionsCleared(r.message, r.emoji.id ?? r.emoji.name ?? ''),
    );
    this.listen(Events.InteractionCreate, (i) => this.onInteraction(i));
    // A fresh session (the first, or after Discord refused to resume one) follows a gap in
    // which events were lost; a resumed session replays them, so it needs no catch-up.
    this.listen(Events.ShardReady, (shardId) => this.onSessionStart(shardId));
  }

  detach(): void {
    for (const detach of this.detachers.splice(0)) detach();
  }

  private listen<E extends keyof ClientEvents>(
    event: E,
    listener: (...args: ClientEvents[E]) => void,
  ): void {
    this.client.on(event, listener);
    this.detachers.push(() => this.client.off(event, listener));
  }

  /** Resolves when every event and command received so far has been handled. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  // ---- messages in round threads --------------------------------------------------------

  private onMessageCreate(message: Message): void {
    if (this.guard.isReplay(`MESSAGE_CREATE:${message.id}`)) return;
    const place = this.placeOf(message);
    if (!place || !isMemberMessage(message)) return;
    void this.inOrder(place.threadId, async () => {
      const outcome = await this.service.reply({
        scope: place.scope,
        channelId: place.parentId,
        threadRootId: place.threadId,
        messageId: message.id,
        userId: message.author.id,
        text: message.content,
        at: message.createdTimestamp,
        eventId: `msg.${message.id}`,
      });
      await this.tell(outcome, message);
    });
  }

  private onMessageUpdate(updated: Message | PartialMessage): void {
    if (this.guard.isReplay(`MESSAGE_UPDATE:${updated.id}`)) return;
    const place = this.placeOf(updated);
    if (!place) return;
    void this.inOrder(place.threadId, async () => {
      const message = updated.partial ? await updated.fetch().catch(() => null) : updated;
      // No edited_timestamp: an embed unfurled or a pin changed, not the member's text.
      if (!message || message.editedTimestamp === null || !isMemberMessage(message)) return;
      const outcome = await this.service.reply({
        scope: place.scope,
        channelId: place.parentId,
        threadRootId: place.threadId,
        messageId: message.id,
        userId: message.author.id,
        text: message.content,
        at: message.createdTimestamp,
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
    void this.inOrder(place.threadId, async () => {
      await this.service.removeReply({
        scope: place.scope,
        channelId: place.parentId,
        threadRootId: place.threadId,
        messageId: message.id,
      });
    });
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
    await this.platform.replyTo(place.channelId, place.messageId, place.userId, outcome.notice);
  }

  // ---- reactions on statements ------------------------------------------------------------

  private onReaction(
    reaction: MessageReaction | PartialMessageReaction,
    user: User | PartialUser,
    removed: boolean,
  ): void {
    const emoji = reaction.emoji.id ?? reaction.emoji.name ?? '';
    const type = removed ? 'MESSAGE_REACTION_REMOVE' : 'MESSAGE_REACTION_ADD';
    if (this.guard.isReplay(reactionKey(type, reaction.message.id, user.id, emoji))) return;
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
      // 👍 and 👍🏽 are two reactions on Discord: each is added and removed on its own.
      variant: emoji,
    };
    // The publisher links a statement before its poll reactions are added, so a member
    // reacting as soon as they see them finds it linked.
    void this.inOrder(channelId, async () => {
      try {
        await this.service.react(event);
      } catch (error) {
        // The results are posted already; a late reaction simply does not count.
        if (error instanceof DomainError && error.code === 'poll_closed') return;
        throw error;
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
    void this.inOrder(channelId, async () => {
      const stored = await this.service.pollReactions(scope, channelId, messageId);
      if (!stored) return;
      try {
        for (const reaction of stored.reactions) {
          if (variant !== null && reaction.variant !== variant) continue;
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
      if (guild.shardId === shardId && guild.available) this.track(this.catchUpGuild(guild));
    }
  }

  /**
   * Reads back what happened in the guild's open rounds while no session was up. Rounds
   * go one at a time, each in its thread's queue, so live events wait for it and nothing
   * read from Discord can overtake them.
   */
  private async catchUpGuild(guild: Guild): Promise<void> {
    const scope: Scope = { platform: 'discord', workspaceId: guild.id };
    const channelIds = [...guild.channels.cache.values()]
      .filter((c) => !c.isThread())
      .map((c) => c.id);
    const open = await this.service.openRounds(scope, channelIds);
    const rounds = open.slice(0, CATCH_UP_ROUNDS_PER_GUILD);
    if (open.length > rounds.length) {
      this.log.warn(
        { guildId: guild.id, open: open.length, caughtUp: rounds.length },
        'more open rounds than catch-up reads; the rest only get events from now on',
      );
    }
    for (const state of rounds) {
      const threadId = state.round.questionRef?.threadId;
      if (!threadId) continue;
      await this.inOrder(threadId, async () => {
        const report = await this.catchUp.round(scope, state);
        this.log.info({ guildId: guild.id, ...report }, 'caught up on a round');
      });
    }
  }

  // ---- slash commands -------------------------------------------------------------------------

  private onInteraction(interaction: Interaction): void {
    const button = interaction.isButton() ? parseRateButton(interaction.customId) : null;
    if (interaction.isButton() && button) {
      if (this.guard.isReplay(`INTERACTION_CREATE:${interaction.id}`)) return;
      if (!this.seenInteractions.add(interaction.id)) return;
      this.track(this.rateButton(interaction, button.kind, button.optionKey));
      return;
    }
    if (!interaction.isChatInputCommand() || interaction.commandName !== COMMAND_NAME) return;
    if (this.guard.isReplay(`INTERACTION_CREATE:${interaction.id}`)) return;
    if (!this.seenInteractions.add(interaction.id)) return;
    this.track(this.command(interaction));
  }

  /**
   * A click on a buttons poll (anonymous or hidden): the member's rating, answered only to
   * them (ephemeral), so nothing in the channel shows who rated or how. Every click gets an
   * answer, or Discord tells the member "This interaction failed".
   */
  private async rateButton(
    interaction: ButtonInteraction,
    kind: RateButtonKind | null,
    optionKey: string,
  ): Promise<void> {
    let answer: string;
    if (!interaction.inGuild()) {
      answer = OUTSIDE_GUILD_TEXT;
    } else {
      try {
        const event = {
          scope: { platform: 'discord' as const, workspaceId: interaction.guildId },
          channelId: interaction.channelId,
          messageId: interaction.message.id,
          userId: interaction.user.id,
          optionKey,
          at: this.now(),
          removed: false,
          source: 'button' as const,
        };
        let outcome = await this.service.react(event);
        // Buttons exist only on the bot's own statements: an unknown one is a statement
        // posted a moment ago whose link to its round is still being written.
        for (let i = 0; i < LINK_RETRIES && outcome.status === 'ignored' && !outcome.roundId; i++) {
          await new Promise((r) => setTimeout(r, LINK_RETRY_MS));
          outcome = await this.service.react(event);
        }
        answer =
          outcome.status === 'recorded'
            ? ratedText(kind, optionKey)
            : 'That button is not a rating in an open poll.';
      } catch (error) {
        if (error instanceof DomainError) answer = error.message;
        else {
          this.log.error(
            { ...describeError(error), guildId: interaction.guildId },
            'rating button failed',
          );
          answer = INTERNAL_ERROR_TEXT;
        }
      }
    }
    await interaction.reply({ content: answer, flags: MessageFlags.Ephemeral });
  }

  private async command(interaction: ChatInputCommandInteraction): Promise<void> {
    // Read before parsing (which fails on a stale registration): this never throws.
    const visibility =
      interaction.options.getSubcommand(false) === 'results' ? 'public' : 'ephemeral';
    await this.respond(interaction, visibility, async () => {
      if (!interaction.inGuild()) return { ephemeral: true, content: OUTSIDE_GUILD_TEXT };
      const command = parseCommand(interaction);
      if (command.kind === 'help' || command.kind === 'unknown') {
        return { ephemeral: true, content: HELP_TEXT };
      }
      const scope: Scope = { platform: 'discord', workspaceId: interaction.guildId };
      return this.run(command, scope, this.actorOf(interaction), interaction);
    });
  }

  private async run(
    command: Exclude<ConsensusCommand, { kind: 'help' } | { kind: 'unknown' }>,
    scope: Scope,
    actor: Actor,
    interaction: ChatInputCommandInteraction<'cached' | 'raw'>,
  ): Promise<Answer> {
    const service = this.service;
    if (command.kind === 'start') {
      const refusal = startRefusal(interaction);
      if (refusal) return { ephemeral: true, content: refusal };
      const round = await service.start({
        scope,
        channelId: interaction.channelId,
        actor,
        question: command.question,
        settings: command.settings,
      });
      const closes =
        round.deadline === null
          ? ' Close it with `/consensus close`.'
          : ` It closes <t:${Math.floor(round.deadline / 1000)}:R>.`;
      return {
        ephemeral: true,
        content: `Round \`${round.id}\` started: the question is posted in this channel, and replies in its thread are the opinions.${closes}`,
      };
    }
    const target = { scope, channelId: roundChannelOf(interaction), roundId: command.roundId };
    switch (command.kind) {
      case 'close': {
        const round = await service.close(target, actor);
        return {
          ephemeral: true,
          content: `Round \`${round.id}\` is closed: writing the ${round.version === 0 ? 'statement' : 'revised statement'} now. It will appear in the thread.`,
        };
      }
      case 'critique': {
        const round = await service.critique(target, actor);
        return {
          ephemeral: true,
          content: `Round \`${round.id}\` is collecting critiques: replies in its thread are critiques now. \`/consensus close\` writes the revision.`,
        };
      }
      case 'finish': {
        const results = await service.finish(target, actor);
        return {
          ephemeral: true,
          content: `Round \`${results.roundId}\` is finished; the results are posted in its thread.`,
        };
      }
      case 'cancel': {
        const round = await service.cancel(target, actor);
        return { ephemeral: true, content: `Round \`${round.id}\` is cancelled.` };
      }
      case 'extend': {
        const round = await service.extend(target, actor, command.minutes);
        return {
          ephemeral: true,
          content: `Round \`${round.id}\` stays open until <t:${Math.floor((round.deadline ?? 0) / 1000)}:f> (<t:${Math.floor((round.deadline ?? 0) / 1000)}:R>).`,
        };
      }
      case 'status':
        return { ephemeral: true, embeds: [statusEmbed(await service.status(target))] };
      case 'results':
        return { ephemeral: false, embeds: [resultsEmbed(await service.results(target))] };
      case 'export': {
        const data = await service.export(target);
        return {
          ephemeral: true,
          content: `Everything about round \`${data.round.id}\`, as JSON, and in the Polis export layout (CSV).`,
          files: [
            {
              name: `round-${data.round.id}.json`,
              attachment: Buffer.from(JSON.stringify(data, null, 2)),
            },
            ...polisExportFiles(data.round.scope, [data]).map((f) => ({
              name: `round-${data.round.id}-${f.name}`,
              attachment: Buffer.from(f.content),
            })),
          ],
        };
      }
    }
  }

  /**
   * Answers directly when the work is quick; otherwise defers before Discord's 3 s run
   * out and edits the deferred reply when the work is done. Errors are only shown to
   * the member who ran the command.
   */
  private async respond(
    interaction: ChatInputCommandInteraction,
    visibility: 'public' | 'ephemeral',
    work: () => Promise<Answer>,
  ): Promise<void> {
    const deferral: { done: Promise<boolean> | null } = { done: null };
    const timer = setTimeout(() => {
      deferral.done = interaction
        .deferReply(visibility === 'ephemeral' ? { flags: MessageFlags.Ephemeral } : {})
        .then(
          () => true,
          (error: unknown) => {
            this.log.warn(describeError(error), 'could not defer a command');
            return false;
          },
        );
    }, this.deferAfterMs);
    let answer: Answer;
    try {
      answer = await work();
    } catch (error) {
      answer = this.failure(error, interaction);
    } finally {
      clearTimeout(timer);
    }
    const body = {
      ...(answer.content !== undefined && { content: answer.content }),
      ...(answer.embeds !== undefined && { embeds: answer.embeds }),
      ...(answer.files !== undefined && { files: answer.files }),
      allowedMentions: { parse: [] },
    };
    if (deferral.done === null) {
      await interaction.reply(
        answer.ephemeral ? { ...body, flags: MessageFlags.Ephemeral } : { ...body },
      );
      return;
    }
    if (!(await deferral.done)) return;
    if (answer.ephemeral && visibility === 'public') {
      // A public "thinking…" cannot turn private: replace it with a private follow-up.
      await interaction.deleteReply();
      await interaction.followUp({ ...body, flags: MessageFlags.Ephemeral });
      return;
    }
    await interaction.editReply(body);
  }

  private failure(error: unknown, interaction: ChatInputCommandInteraction): Answer {
    if (error instanceof DomainError) return { ephemeral: true, content: error.message };
    if (error instanceof StaleCommandError) {
      // The admin's to fix, not a bug here: say what to run, and log it once per use.
      this.log.warn(
        { ...describeError(error.cause), guildId: interaction.guildId },
        'command options do not match the registration; run npm run discord:commands',
      );
      return { ephemeral: true, content: error.message };
    }
    this.log.error(
      {
        ...describeError(error),
        guildId: interaction.guildId,
        subcommand: interaction.options.getSubcommand(false),
      },
      'command failed',
    );
    return { ephemeral: true, content: INTERNAL_ERROR_TEXT };
  }

  /** Moderators: Manage Server or Manage Messages, or a configured role. Starters are checked by the service. */
  private actorOf(interaction: ChatInputCommandInteraction<'cached' | 'raw'>): Actor {
    const byPermission =
      interaction.memberPermissions?.any([
        PermissionFlagsBits.ManageGuild,
        PermissionFlagsBits.ManageMessages,
      ]) ?? false;
    const roleIds = roleIdsOf(interaction.member);
    const roleNames = roleIds.map(
      (id) => interaction.guild?.roles.cache.get(id)?.name.toLowerCase() ?? '',
    );
    const byRole = this.moderatorRoles.some(
      (role) => roleIds.includes(role) || roleNames.includes(role),
    );
    const moderator = byPermission || byRole;
    return {
      userId: interaction.user.id,
      moderator,
      // With no moderator roles configured, any member may start a round.
      mayStart: moderator || this.moderatorRoles.length === 0,
    };
  }

  // ---- bookkeeping ----------------------------------------------------------------------------

  /** Runs `task` after every earlier task of the same key; a failure is logged, never thrown. */
  private inOrder(key: string, task: () => Promise<void>): Promise<void> {
    const previous = this.chains.get(key) ?? Promise.resolve();
    const next = previous.then(task).catch((error: unknown) => {
      this.log.error(describeError(error), 'discord event failed');
    });
    this.chains.set(key, next);
    this.track(
      next.finally(() => {
        if (this.chains.get(key) === next) this.chains.delete(key);
      }),
    );
    return next;
  }

  private track(work: Promise<void>): void {
    const tracked = work.catch((error: unknown) => {
      this.log.error(describeError(error), 'discord command failed');
    });
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
  }
}

/** Open rounds read back per guild after a gap; more than this many at once is unusual. */
const CATCH_UP_ROUNDS_PER_GUILD = 50;

/** What a member sees after clicking a rating button; never "anonymous" unless it is. */
function ratedText(kind: RateButtonKind | null, optionKey: string): string {
  if (kind === 'anonymous') {
    return `Your anonymous rating: ${optionKey}. Click another button to change it.`;
  }
  if (kind === 'hidden') {
    return `Your rating: ${optionKey}. The tally stays hidden until the round is finished; click another button to change it.`;
  }
  return `Your rating: ${optionKey}. Click another button to change it.`;
}

function isMemberMessage(message: Message): boolean {
  return (
    !message.author.bot &&
    message.webhookId === null &&
    !message.system &&
    (message.type === MessageType.Default || message.type === MessageType.Reply)
  );
}

function roleIdsOf(member: GuildMember | APIInteractionGuildMember | null): string[] {
  if (!member) return [];
  return Array.isArray(member.roles) ? member.roles : [...member.roles.cache.keys()];
}

/** Commands used inside a round's thread act on the rounds of its parent channel. */
function roundChannelOf(interaction: ChatInputCommandInteraction): string {
  const channel = interaction.channel;
  if (channel?.isThread() && channel.parentId) return channel.parentId;
  return interaction.channelId;
}

/** Why a round cannot start here, in words for the moderator; null when it can. */
function startRefusal(interaction: ChatInputCommandInteraction<'cached' | 'raw'>): string | null {
  const channel = interaction.channel;
  if (channel?.isThread()) {
    return 'Start a round in a text channel, not inside a thread: the question gets a thread of its own.';
  }
  if (
    channel &&
    channel.type !== ChannelType.GuildText &&
    channel.type !== ChannelType.GuildAnnouncement
  ) {
    return 'Start a round in a text channel: the question needs a thread for the replies.';
  }
  const missing = interaction.appPermissions.missing([...BOT_PERMISSIONS]);
  if (missing.length > 0) {
    return `I am missing these permissions in this channel: ${missing.join(', ')}. A server admin can grant them to my role, or re-invite me with the link in the setup guide.`;
  }
  return null;
}

/** Remembers the last `capacity` keys; `add` says whether a key is new. */
class RecentSet {
  private readonly keys = new Set<string>();
  constructor(private readonly capacity: number) {}
  add(key: string): boolean {
    if (this.keys.has(key)) return false;
    this.keys.add(key);
    if (this.keys.size > this.capacity) {
      const oldest = this.keys.values().next().value;
      if (oldest !== undefined) this.keys.delete(oldest);
    }
    return true;
  }
}
