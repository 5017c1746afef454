/**
 * Slash commands and rating buttons: options -> service calls -> an answer to the member.
 * Unlike a gateway event, an interaction must be answered, and within Discord's 3 s or it
 * fails in the member's face; that timing, the wording of answers and errors, and who counts
 * as a moderator live here, apart from the bot's event wiring in bot.ts.
 */
import {
  type APIEmbed,
  type APIInteractionGuildMember,
  type ButtonInteraction,
  ChannelType,
  type ChatInputCommandInteraction,
  DiscordAPIError,
  type GuildMember,
  HTTPError,
  type Interaction,
  MessageFlags,
  PermissionFlagsBits,
} from 'discord.js';
import type { Actor, PlatformService } from '../../deliberation/ports.js';
import type { DeliberationService } from '../../deliberation/service.js';
import { ratedNote, repostText } from '../../deliberation/views.js';
import { DomainError, errorMessage } from '../../domain/errors.js';
import type { Log } from '../../domain/log.js';
import type { Scope } from '../../domain/scope.js';
import { BOT_PERMISSIONS } from './client.js';
import {
  COMMAND_NAME,
  type ConsensusCommand,
  parseCommand,
  StaleCommandError,
} from './commands.js';
import { describeError } from './errors.js';
import { MAX_REQUEST_BYTES, roundExportAnswer, workspaceExportAnswer } from './export.js';
import { RecentSet } from './recent-set.js';
import {
  HELP_TEXT,
  parseRateButton,
  type RateButtonKind,
  resultsEmbed,
  statusEmbed,
} from './render.js';

/** What the interactions need of the service: a platform's calls, and one claim per delivery. */
export type InteractionService = PlatformService & Pick<DeliberationService, 'firstDelivery'>;

/** Leaves room for the round trip to Discord inside its 3 s. */
export const DEFAULT_DEFER_AFTER_MS = 1_500;

export const OUTSIDE_GUILD_TEXT =
  'Consensus rounds run in servers: use `/consensus` in a text channel of a server the bot is a member of. It does nothing in direct messages.';
/** Only with DISCORD_MODERATOR_ROLES set: otherwise anyone may start a round. */
export const START_REFUSAL =
  'Only moderators may start a round in this server: members with Manage Server or Manage Messages, or with one of the bot’s moderator roles.';
const INTERNAL_ERROR_TEXT = 'Something went wrong on my side; please try again in a moment.';

export interface InteractionsOptions {
  service: InteractionService;
  log: Log;
  /** Role ids or names whose members are moderators (besides Manage Server / Manage Messages). */
  moderatorRoles: readonly string[];
  /**
   * Discord forgets an interaction not answered within 3 s of sending it. Work that
   * has not finished by this time is deferred ("thinking…") and answered by an edit.
   */
  deferAfterMs?: number;
  now: () => number;
  /** Whether the gateway is delivering this dispatch again (the bot's ReplayGuard). */
  isReplay: (key: string) => boolean;
  /** The largest reply with files Discord takes; default its per-request cap (export.ts). */
  maxRequestBytes?: number;
}

interface Answer {
  ephemeral: boolean;
  content?: string;
  embeds?: APIEmbed[];
  files?: { name: string; attachment: Buffer }[];
  /** Sent instead when Discord refuses the files as too large (a limit we estimated). */
  ifFilesRefused?: string;
}

export class Interactions {
  private readonly service: InteractionService;
  private readonly log: Log;
  private readonly moderatorRoles: string[];
  private readonly deferAfterMs: number;
  private readonly now: () => number;
  private readonly isReplay: (key: string) => boolean;
  private readonly maxRequestBytes: number;
  private readonly seenInteractions = new RecentSet(2_000);

  constructor(options: InteractionsOptions) {
    this.service = options.service;
    this.log = options.log;
    this.moderatorRoles = options.moderatorRoles.map((r) => r.trim().toLowerCase());
    this.deferAfterMs = options.deferAfterMs ?? DEFAULT_DEFER_AFTER_MS;
    this.now = options.now;
    this.isReplay = options.isReplay;
    this.maxRequestBytes = options.maxRequestBytes ?? MAX_REQUEST_BYTES;
  }

  /** The work of answering `interaction`, or null when it is not the bot's or was seen already. */
  handle(interaction: Interaction): Promise<void> | null {
    const button = interaction.isButton() ? parseRateButton(interaction.customId) : null;
    if (interaction.isButton() && button) {
      if (this.isReplay(`INTERACTION_CREATE:${interaction.id}`)) return null;
      if (!this.seenInteractions.add(interaction.id)) return null;
      return this.once(interaction, () =>
        this.rateButton(interaction, button.kind, button.optionKey),
      );
    }
    if (!interaction.isChatInputCommand() || interaction.commandName !== COMMAND_NAME) return null;
    if (this.isReplay(`INTERACTION_CREATE:${interaction.id}`)) return null;
    if (!this.seenInteractions.add(interaction.id)) return null;
    return this.once(interaction, () => this.command(interaction));
  }

  /**
   * Runs `work` unless another process on this Redis took the interaction first (the
   * service's `firstDelivery`); the one that did answers it. Redis out of reach: handled
   * here, where the command itself then says what failed, rather than left unanswered.
   */
  private async once(interaction: Interaction, work: () => Promise<void>): Promise<void> {
    if (interaction.inGuild()) {
      const scope = { platform: 'discord' as const, workspaceId: interaction.guildId };
      const first = await this.service
        .firstDelivery(scope, `interaction.${interaction.id}`)
        .catch((error: unknown) => {
          this.log.warn(
            { guildId: interaction.guildId, err: errorMessage(error) },
            'could not check whether another process took this interaction; handling it here',
          );
          return true;
        });
      if (!first) return;
    }
    await work();
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
    await this.respond(interaction, 'ephemeral', async () => {
      if (!interaction.inGuild()) return { ephemeral: true, content: OUTSIDE_GUILD_TEXT };
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
      // A click on a statement posted a moment ago waits there for its link.
      const outcome = await this.service.react(event);
      return {
        ephemeral: true,
        content:
          outcome.status === 'recorded'
            ? ratedNote(kind, optionKey)
            : 'That button is not a rating in an open poll.',
      };
    });
  }

  private async command(interaction: ChatInputCommandInteraction): Promise<void> {
    // Read before parsing (which fails on a stale registration): this never throws.
    const visibility =
      interaction.options.getSubcommand(false) === 'results' ? 'public' : 'ephemeral';
    await this.respond(interaction, visibility, async () => {
      if (!interaction.inGuild()) return { ephemeral: true, content: OUTSIDE_GUILD_TEXT };
      const command = parseCommand(interaction);
      if (command.kind === 'help') return { ephemeral: true, content: HELP_TEXT };
      // A subcommand this bot does not have comes from an older registration, as a
      // mistyped option does: say what to run, rather than list commands the member lacks.
      if (command.kind === 'unknown')
        throw new StaleCommandError(`unknown subcommand ${command.name}`);
      // Answered before the command is counted, as help is: nothing was done.
      if (command.kind === 'invalid') return { ephemeral: true, content: command.message };
      const scope: Scope = { platform: 'discord', workspaceId: interaction.guildId };
      await this.service.admitCommand({
        scope,
        userId: interaction.user.id,
        command: command.kind,
        isExport: command.kind === 'export' || command.kind === 'exportWorkspace',
      });
      return this.run(command, scope, this.actorOf(interaction), interaction);
    });
  }

  private async run(
    command: Exclude<
      ConsensusCommand,
      { kind: 'help' } | { kind: 'unknown' } | { kind: 'invalid' }
    >,
    scope: Scope,
    actor: Actor,
    interaction: ChatInputCommandInteraction<'cached' | 'raw'>,
  ): Promise<Answer> {
    const service = this.service;
    if (command.kind === 'start') {
      // Refused here, in Discord's terms (the service says "workspace"), naming who may.
      if (!actor.mayStart) return { ephemeral: true, content: START_REFUSAL };
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
    if (command.kind === 'exportWorkspace') {
      // Refused here, in Discord's terms; the service's own check is the backstop.
      const authority = this.hasServerAuthority(interaction);
      if (!authority) return { ephemeral: true, content: this.serverExportRefusal() };
      const rounds = await service.exportWorkspace(scope, { ...actor, moderator: authority });
      return {
        ephemeral: true,
        ...workspaceExportAnswer(scope, rounds, {
          attachmentLimit: interaction.attachmentSizeLimit,
          requestLimit: this.maxRequestBytes,
        }),
      };
    }
    const target = { scope, channelId: roundChannelOf(interaction), roundId: command.roundId };
    switch (command.kind) {
      case 'close': {
        const round = await service.close(target, actor);
        if (round.phase === 'polling') return { ephemeral: true, content: repostText(round.id) };
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
          ...roundExportAnswer(data, {
            attachmentLimit: interaction.attachmentSizeLimit,
            requestLimit: this.maxRequestBytes,
          }),
        };
      }
    }
  }

  /**
   * Answers directly when the work is quick; otherwise defers before Discord's 3 s run
   * out and edits the deferred reply when the work is done. Errors are only shown to
   * the member who ran the command or clicked the button.
   */
  private async respond(
    interaction: ChatInputCommandInteraction | ButtonInteraction,
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
            this.log.warn(describeError(error), 'could not defer an interaction');
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
    try {
      await this.send(interaction, visibility, answer, deferral.done);
    } catch (error) {
      // The size checks estimate Discord's limits; when it refuses the files anyway the
      // member would be left with "thinking…", so they get the operators' command instead.
      if (answer.ifFilesRefused === undefined || !isTooLarge(error)) throw error;
      this.log.warn(describeError(error), 'Discord refused an export as too large');
      const { files: _files, ...rest } = answer;
      await this.send(
        interaction,
        visibility,
        { ...rest, content: answer.ifFilesRefused },
        deferral.done,
      );
    }
  }

  private async send(
    interaction: ChatInputCommandInteraction | ButtonInteraction,
    visibility: 'public' | 'ephemeral',
    answer: Answer,
    deferred: Promise<boolean> | null,
  ): Promise<void> {
    const body = {
      ...(answer.content !== undefined && { content: answer.content }),
      ...(answer.embeds !== undefined && { embeds: answer.embeds }),
      ...(answer.files !== undefined && { files: answer.files }),
      allowedMentions: { parse: [] },
    };
    if (deferred === null) {
      await interaction.reply(
        answer.ephemeral ? { ...body, flags: MessageFlags.Ephemeral } : { ...body },
      );
      return;
    }
    if (!(await deferred)) return;
    if (answer.ephemeral && visibility === 'public') {
      // A public "thinking…" cannot turn private: replace it with a private follow-up.
      await interaction.deleteReply();
      await interaction.followUp({ ...body, flags: MessageFlags.Ephemeral });
      return;
    }
    await interaction.editReply(body);
  }

  private failure(
    error: unknown,
    interaction: ChatInputCommandInteraction | ButtonInteraction,
  ): Answer {
    if (error instanceof DomainError) return { ephemeral: true, content: error.message };
    if (interaction.isButton()) {
      this.log.error(
        { ...describeError(error), guildId: interaction.guildId },
        'rating button failed',
      );
      return { ephemeral: true, content: INTERNAL_ERROR_TEXT };
    }
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
    const moderator = byPermission || this.hasModeratorRole(interaction);
    return {
      userId: interaction.user.id,
      moderator,
      // With no moderator roles configured, any member may start a round.
      mayStart: moderator || this.moderatorRoles.length === 0,
    };
  }

  private hasModeratorRole(interaction: ChatInputCommandInteraction<'cached' | 'raw'>): boolean {
    const roleIds = roleIdsOf(interaction.member);
    const roleNames = roleIds.map(
      (id) => interaction.guild?.roles.cache.get(id)?.name.toLowerCase() ?? '',
    );
    return this.moderatorRoles.some((role) => roleIds.includes(role) || roleNames.includes(role));
  }

  /**
   * Whether the member may export every channel's rounds: a configured role id, or Manage
   * Server (Administrator and the owner included) from the member's roles. Not
   * `memberPermissions`: that is what the member may do in this channel, overwrites
   * included, so a channel's own moderator, or a Manage Messages helper who cannot see
   * the private channels, would pass.
   */
  private hasServerAuthority(interaction: ChatInputCommandInteraction<'cached' | 'raw'>): boolean {
    // Configured roles by id only: role names are not unique, and anyone with Manage
    // Roles could make a role of a configured name and give it to themselves.
    const roleIds = roleIdsOf(interaction.member);
    if (this.moderatorRoles.some((role) => roleIds.includes(role))) return true;
    // Without the guild in the cache the member's guild-wide permissions are unknown:
    // refuse rather than fall back to the channel's.
    if (!interaction.inCachedGuild()) return false;
    return interaction.member.permissions.has(PermissionFlagsBits.ManageGuild);
  }

  private serverExportRefusal(): string {
    const who =
      this.moderatorRoles.length === 0
        ? 'members with the Manage Server permission'
        : 'members with the Manage Server permission or one of the bot’s moderator roles (named by id in DISCORD_MODERATOR_ROLES)';
    return (
      `Only ${who} may export the whole server: it holds the rounds of every channel, private ones included. ` +
      'Manage Messages, or a permission given in one channel, is not enough. ' +
      'To export one round, give its id, or run the command in its channel.'
    );
  }
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

/** Discord's "request entity too large": HTTP 413, or its JSON code 40005. */
function isTooLarge(error: unknown): boolean {
  if (error instanceof DiscordAPIError) return error.status === 413 || error.code === 40005;
  return error instanceof HTTPError && error.status === 413;
}
