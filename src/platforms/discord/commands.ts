import {
  type ChatInputCommandInteraction,
  InteractionContextType,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
  SlashCommandBuilder,
  type SlashCommandSubcommandBuilder,
} from 'discord.js';
import { LIMITS } from '../../domain/limits.js';
import { type PollScale, PollScaleSchema } from '../../domain/poll-scale.js';
import type { RoundSettings } from '../../domain/round.js';
import { type WelfareName, WelfareNameSchema } from '../../domain/welfare-name.js';

export const COMMAND_NAME = 'consensus';

const WELFARE_LABELS: Record<WelfareName, string> = {
  egalitarian: 'egalitarian: best for the least served member (default)',
  utilitarian: 'utilitarian: highest mean approval',
  nash: 'nash: balances mean and spread',
  schulze: 'schulze: ranked choice over predicted rankings',
  bridging: 'bridging: approved across opinion groups learned from ratings',
};

const SCALE_LABELS: Record<PollScale, string> = {
  approval3: 'approval3: 👍 🤷 👎 (default)',
  likert7: 'likert7: 1️⃣ … 7️⃣',
};

/** Subcommands that act on one round: the open round of the channel, or the one named. */
export const ROUND_SUBCOMMANDS = [
  ['close', 'Stop collecting opinions (or critiques) and write the statement'],
  ['status', 'Show where the round stands (only you see it)'],
  ['critique', 'Collect critiques of the statement for a revision'],
  ['finish', 'End the poll and post the results'],
  ['cancel', 'Cancel the round'],
  ['results', 'Show the results so far'],
  ['export', 'Download the round as JSON and Polis CSVs (only you get it)'],
] as const;

export type RoundSubcommand = (typeof ROUND_SUBCOMMANDS)[number][0];

function withRoundOption(sub: SlashCommandSubcommandBuilder): SlashCommandSubcommandBuilder {
  return sub.addStringOption((o) =>
    o
      .setName('round')
      .setDescription('Round id, when the channel has several open rounds')
      .setMinLength(1)
      .setMaxLength(128),
  );
}

/** The `/consensus` command as Discord registers it, with typed options and choices. */
export function consensusCommand(): RESTPostAPIChatInputApplicationCommandsJSONBody {
  const builder = new SlashCommandBuilder()
    .setName(COMMAND_NAME)
    .setDescription('Find a statement the whole group can endorse')
    .setContexts(InteractionContextType.Guild)
    .addSubcommand((sub) =>
      sub
        .setName('start')
        .setDescription('Ask a question; replies in its thread are opinions')
        .addStringOption((o) =>
          o
            .setName('question')
            .setDescription('The question to put to the group')
            .setRequired(true)
            .setMinLength(1)
            .setMaxLength(LIMITS.questionMaxChars),
        )
        .addIntegerOption((o) =>
          o
            .setName('candidates')
            .setDescription(`Candidate statements to write (default ${LIMITS.defaultCandidates})`)
            .setMinValue(LIMITS.minCandidates)
            .setMaxValue(LIMITS.maxCandidates),
        )
        .addIntegerOption((o) =>
          o
            .setName('minutes')
            .setDescription('Close automatically after this many minutes')
            .setMinValue(1)
            .setMaxValue(LIMITS.maxMinutes),
        )
        .addStringOption((o) =>
          o
            .setName('welfare')
            .setDescription('How the statement is chosen')
            .addChoices(
              ...WelfareNameSchema.options.map((w) => ({ name: WELFARE_LABELS[w], value: w })),
            ),
        )
        .addStringOption((o) =>
          o
            .setName('scale')
            .setDescription('How members rate the statement')
            .addChoices(
              ...PollScaleSchema.options.map((s) => ({ name: SCALE_LABELS[s], value: s })),
            ),
        )
        .addIntegerOption((o) =>
          o
            .setName('poll_minutes')
            .setDescription('Finish each poll automatically after this many minutes')
            .setMinValue(1)
            .setMaxValue(LIMITS.maxMinutes),
        )
        .addIntegerOption((o) =>
          o
            .setName('remind_minutes')
            .setDescription('Remind members who have not rated, this many minutes into each poll')
            .setMinValue(1)
            .setMaxValue(LIMITS.maxMinutes),
        )
        .addBooleanOption((o) =>
          o
            .setName('anonymous')
            .setDescription('Rate with buttons; ratings and results never show who'),
        )
        .addBooleanOption((o) =>
          o
            .setName('hidden')
            .setDescription(
              'Hide the tally until the round is finished (ratings are not anonymous)',
            ),
        )
        .addIntegerOption((o) =>
          o
            .setName('min_turnout')
            .setDescription('Ratings needed before a statement can be declared endorsed')
            .setMinValue(1)
            .setMaxValue(LIMITS.maxTurnout),
        )
        .addIntegerOption((o) =>
          o
            .setName('revise_below')
            .setDescription(
              'Percent: critique automatically when the first poll’s mean approval is below this',
            )
            .setMinValue(1)
            .setMaxValue(100),
        ),
    );
  for (const [name, description] of ROUND_SUBCOMMANDS) {
    builder.addSubcommand((sub) => {
      const withRound = withRoundOption(sub.setName(name).setDescription(description));
      if (name !== 'export') return withRound;
      return withRound.addBooleanOption((o) =>
        o
          .setName('workspace')
          // Not "moderators": Manage Messages, or a role listed by name, moderates yet is refused
          // (hasServerAuthority: Manage Server, or a moderator role listed by id).
          .setDescription('Every round of this server instead of one (server managers only)'),
      );
    });
  }
  // Discord wants required options before optional ones: minutes, then the round.
  builder.addSubcommand((sub) =>
    withRoundOption(
      sub
        .setName('extend')
        .setDescription('Keep the opinions, critiques or poll open longer')
        .addIntegerOption((o) =>
          o
            .setName('minutes')
            .setDescription('Minutes from now until the phase closes by itself')
            .setRequired(true)
            .setMinValue(1)
            .setMaxValue(LIMITS.maxMinutes),
        ),
    ),
  );
  builder.addSubcommand((sub) => sub.setName('help').setDescription('How consensus rounds work'));
  return builder.toJSON();
}

export type ConsensusCommand =
  | { kind: 'start'; question: string; settings: Partial<RoundSettings> }
  | { kind: RoundSubcommand; roundId: string | null }
  | { kind: 'extend'; minutes: number; roundId: string | null }
  /** `export workspace:true`: every round of the server. */
  | { kind: 'exportWorkspace' }
  | { kind: 'help' }
  | { kind: 'unknown'; name: string }
  /** Options Discord lets through together that ask for two different things. */
  | { kind: 'invalid'; message: string };

/**
 * The options Discord sent do not have the types this bot registers: the server still has
 * an older registration of `/consensus` (discord.js throws on reading such an option).
 */
export class StaleCommandError extends Error {
  constructor(cause: unknown) {
    super(
      'This server has an out-of-date registration of `/consensus`: its options do not match this version of the bot. ' +
        'A server admin can fix it by running `npm run discord:commands` again (README, "Connect to Discord").',
      { cause },
    );
    this.name = 'StaleCommandError';
  }
}

/**
 * Reads a `/consensus` interaction into a command. Discord checks types and ranges against
 * the registration; a registration older than the bot fails here with StaleCommandError.
 */
export function parseCommand(interaction: ChatInputCommandInteraction): ConsensusCommand {
  try {
    return readCommand(interaction);
  } catch (error) {
    throw new StaleCommandError(error);
  }
}

function readCommand(interaction: ChatInputCommandInteraction): ConsensusCommand {
  const sub = interaction.options.getSubcommand(false) ?? '';
  if (sub === 'start') {
    const settings: Partial<RoundSettings> = {};
    const candidates = interaction.options.getInteger('candidates');
    const minutes = interaction.options.getInteger('minutes');
    // A choice this bot does not know comes from an older registration: refused as stale
    // (readCommand's caller), never silently replaced by the default.
    const welfare = optionalChoice(WelfareNameSchema, interaction.options.getString('welfare'));
    const scale = optionalChoice(PollScaleSchema, interaction.options.getString('scale'));
    if (candidates !== null) settings.candidates = candidates;
    if (minutes !== null) settings.minutes = minutes;
    if (welfare !== null) settings.welfare = welfare;
    if (scale !== null) settings.scale = scale;
    const pollMinutes = interaction.options.getInteger('poll_minutes');
    const remindMinutes = interaction.options.getInteger('remind_minutes');
    const hidden = interaction.options.getBoolean('hidden');
    const anonymous = interaction.options.getBoolean('anonymous');
    const minTurnout = interaction.options.getInteger('min_turnout');
    const reviseBelow = interaction.options.getInteger('revise_below');
    if (pollMinutes !== null) settings.pollMinutes = pollMinutes;
    if (remindMinutes !== null) settings.remindMinutes = remindMinutes;
    if (hidden !== null) settings.hidden = hidden;
    if (anonymous !== null) settings.anonymous = anonymous;
    if (minTurnout !== null) settings.minTurnout = minTurnout;
    if (reviseBelow !== null) settings.reviseBelow = reviseBelow;
    return { kind: 'start', question: interaction.options.getString('question') ?? '', settings };
  }
  if (sub === 'help') return { kind: 'help' };
  if (sub === 'extend') {
    return {
      kind: 'extend',
      minutes: interaction.options.getInteger('minutes', true),
      roundId: roundOption(interaction),
    };
  }
  if (sub === 'export' && interaction.options.getBoolean('workspace') === true) {
    // Discord cannot make the two options exclusive: one round, or the whole server.
    if (roundOption(interaction) !== null) {
      return {
        kind: 'invalid',
        message:
          'Give `round` to export one round, or `workspace:True` for every round of the server, not both.',
      };
    }
    return { kind: 'exportWorkspace' };
  }
  const round = ROUND_SUBCOMMANDS.find(([name]) => name === sub);
  if (round) return { kind: round[0], roundId: roundOption(interaction) };
  return { kind: 'unknown', name: sub };
}

/**
 * The `round` option as the member pasted it: spaces around it and the backticks of a
 * copied code span (the bot writes ids as \`r…\`) are not part of the id.
 */
function roundOption(interaction: ChatInputCommandInteraction): string | null {
  const raw = interaction.options.getString('round');
  if (raw === null) return null;
  const id = raw.trim().replace(/^`+|`+$/g, '');
  return id === '' ? null : id;
}

/** A string option's choice, null when not given; throws on a value the schema refuses. */
function optionalChoice<T extends string>(
  schema: { parse(value: unknown): T },
  value: string | null,
): T | null {
  return value === null ? null : schema.parse(value);
}
