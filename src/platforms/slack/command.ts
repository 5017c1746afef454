import { parseArgs } from 'node:util';
import { z } from 'zod';
import { LIMITS } from '../../domain/limits.js';
import { PollScaleSchema } from '../../domain/poll-scale.js';
import { NewQuestionSchema, type RoundSettings } from '../../domain/round.js';
import { KeySafeIdSchema } from '../../domain/scope.js';
import { WelfareNameSchema } from '../../domain/welfare-name.js';
import { escapeText, fromSlack } from './text.js';

/** Text the member typed, shown back: plain, and inert in mrkdwn. */
const echo = (text: string) => escapeText(fromSlack(text));

export const ROUND_SUBCOMMANDS = [
  'close',
  'status',
  'critique',
  'finish',
  'cancel',
  'results',
  'export',
] as const;
export type RoundSubcommand = (typeof ROUND_SUBCOMMANDS)[number];

export type ParsedCommand =
  | { kind: 'modal' }
  | { kind: 'help' }
  | { kind: 'start'; question: string; settings: Partial<RoundSettings> }
  | { kind: RoundSubcommand; roundId: string | null }
  | { kind: 'extend'; minutes: number; roundId: string | null }
  /** `export all`: every round of the workspace, sent to a moderator privately. */
  | { kind: 'exportWorkspace' }
  | { kind: 'invalid'; message: string };

/** What after `export` asks for the whole workspace; round ids (`r…` + hex) are never these. */
const WORKSPACE_WORDS: readonly string[] = ['all', '--workspace'];

const wholeNumber = (flag: string, min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `${flag} takes a whole number from ${min} to ${max}.`)
    .transform(Number)
    .pipe(
      z
        .number()
        .min(min, `${flag} takes a whole number from ${min} to ${max}.`)
        .max(max, `${flag} takes a whole number from ${min} to ${max}.`),
    );

/** The options of a new round, as strings from the command line or the modal. */
export const StartOptionsSchema = z.object({
  question: NewQuestionSchema,
  candidates: wholeNumber('--candidates', LIMITS.minCandidates, LIMITS.maxCandidates).optional(),
  minutes: wholeNumber('--minutes', 1, LIMITS.maxMinutes).optional(),
  welfare: z
    .string()
    .toLowerCase()
    .pipe(
      z.enum(WelfareNameSchema.options, {
        error: `--welfare is one of ${WelfareNameSchema.options.join(', ')}.`,
      }),
    )
    .optional(),
  scale: z
    .string()
    .toLowerCase()
    .pipe(
      z.enum(PollScaleSchema.options, {
        error: `--scale is one of ${PollScaleSchema.options.join(', ')}.`,
      }),
    )
    .optional(),
  'poll-minutes': wholeNumber('--poll-minutes', 1, LIMITS.maxMinutes).optional(),
  'remind-minutes': wholeNumber('--remind-minutes', 1, LIMITS.maxMinutes).optional(),
  'min-turnout': wholeNumber('--min-turnout', 1, LIMITS.maxTurnout).optional(),
  'revise-below': wholeNumber('--revise-below', 1, 100).optional(),
  /** A switch: present (from the command line, or the modal's checkbox) means on. */
  hidden: z.literal('true').optional(),
  anonymous: z.literal('true').optional(),
});

/** Validated start options, or the first problem in words fit for the member. */
export function validateStart(
  raw: Record<string, string | undefined>,
):
  | { ok: true; question: string; settings: Partial<RoundSettings> }
  | { ok: false; field: string; message: string } {
  const parsed = StartOptionsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      ok: false,
      field: String(issue?.path[0] ?? 'question'),
      message: issue?.message ?? 'Invalid options.',
    };
  }
  const { question, ...rest } = parsed.data;
  const settings: Partial<RoundSettings> = {};
  if (rest.candidates !== undefined) settings.candidates = rest.candidates;
  if (rest.minutes !== undefined) settings.minutes = rest.minutes;
  if (rest.welfare !== undefined) settings.welfare = rest.welfare;
  if (rest.scale !== undefined) settings.scale = rest.scale;
  if (rest['poll-minutes'] !== undefined) settings.pollMinutes = rest['poll-minutes'];
  if (rest['remind-minutes'] !== undefined) settings.remindMinutes = rest['remind-minutes'];
  if (rest['min-turnout'] !== undefined) settings.minTurnout = rest['min-turnout'];
  if (rest['revise-below'] !== undefined) settings.reviseBelow = rest['revise-below'];
  if (rest.hidden !== undefined) settings.hidden = true;
  if (rest.anonymous !== undefined) settings.anonymous = true;
  return { ok: true, question, settings };
}

interface Token {
  value: string;
  start: number;
}

function tokenize(text: string): Token[] {
  return [...text.matchAll(/\S+/g)].map((m) => ({ value: m[0], start: m.index }));
}

/** macOS and some keyboards turn `--` into a dash; a flag is still meant. */
function asFlag(token: string): string | null {
  const normalised = token.replace(/^[—–]/, '--');
  return normalised.startsWith('--') ? normalised : null;
}

/** The option a one-dash word names (`-minutes`, `-Hidden=…`), or null. */
function singleDashOption(token: string): string | null {
  if (!/^-[^-]/.test(token)) return null;
  const name = (token.slice(1).split('=')[0] ?? '').toLowerCase();
  const known = [...START_FLAGS, ...START_SWITCHES] as readonly string[];
  return known.includes(name) ? name : null;
}

const START_FLAGS = [
  'candidates',
  'minutes',
  'welfare',
  'scale',
  'poll-minutes',
  'remind-minutes',
  'min-turnout',
  'revise-below',
] as const;
/** Flags that take no value. */
const START_SWITCHES = ['hidden', 'anonymous'] as const;

/**
 * `/consensus` text -> what to do. `start` takes its known flags anywhere in the text
 * (`start --minutes 5 Q?` and `start Q? --minutes 5` alike); the rest, in order, is the
 * question. Quoted text and everything after a lone `--` stay in the question as typed.
 */
export function parseCommand(rawText: string, command = '/consensus'): ParsedCommand {
  const text = rawText.trim();
  if (text === '') return { kind: 'modal' };
  const tokens = tokenize(text);
  const head = tokens[0]?.value.toLowerCase() ?? '';
  if (head === 'help') return { kind: 'help' };
  if (head === 'start') return parseStart(text, tokens.slice(1), command);
  if (head === 'extend') return parseExtend(tokens.slice(1), command);
  if ((ROUND_SUBCOMMANDS as readonly string[]).includes(head)) {
    const kind = head as RoundSubcommand;
    if (tokens.length > 2) {
      return invalid(`\`${command} ${kind}\` takes at most a round id.`, usageOf(command, kind));
    }
    const id = roundIdAsTyped(tokens[1]?.value);
    if (id === undefined) return { kind, roundId: null };
    if (kind === 'export' && WORKSPACE_WORDS.includes((asFlag(id) ?? id).toLowerCase())) {
      return { kind: 'exportWorkspace' };
    }
    if (!KeySafeIdSchema.safeParse(id).success) {
      return invalid(`"${echo(id)}" is not a round id.`, usageOf(command, kind));
    }
    return { kind, roundId: id };
  }
  const suggestion = asFlag(head) !== null || head.endsWith('?') || tokens.length > 2;
  return invalid(
    `I don't know "${echo(tokens[0]?.value ?? '')}".` +
      (suggestion
        ? ` To ask a question, write \`${command} start ${echo(text)}\`.`
        : ` \`${command} help\` lists what I do.`),
    `\`${command} ${['start', ...ROUND_SUBCOMMANDS, 'extend', 'help'].join('|')} …\``,
  );
}

/** Spans of quoted text ("…", “…”, `…`): flags inside them are part of the question. */
function quotedSpans(text: string): [number, number][] {
  return [...text.matchAll(/"[^"]*"|“[^”]*”|`[^`]*`/g)].map((m) => [
    m.index,
    m.index + m[0].length,
  ]);
}

function parseStart(text: string, tokens: Token[], command: string): ParsedCommand {
  const usage = usageOf(command, 'start');
  const quoted = quotedSpans(text);
  const inQuotes = (at: number) => quoted.some(([from, to]) => at > from && at < to);
  const args: string[] = [];
  const switches: Record<string, string> = {};
  /** The question's pieces: the text between the flags, each as typed. */
  const pieces: string[] = [];
  let cursor = tokens[0]?.start ?? text.length;
  const cut = (from: number, to: number) => {
    pieces.push(text.slice(cursor, from));
    cursor = to;
  };
  const end = (token: Token) => token.start + token.value.length;
  let i = 0;
  const given = new Set<string>();
  while (i < tokens.length) {
    const token = tokens[i] as Token;
    // Before the first word of the question, the options' old, strict rules apply.
    const leading = pieces.join('').trim() === '' && text.slice(cursor, token.start).trim() === '';
    const flag = inQuotes(token.start) ? null : asFlag(token.value);
    // `-minutes 5` is a mistyped option, not words of the question the channel would see.
    const oneDash = flag === null && !inQuotes(token.start) ? singleDashOption(token.value) : null;
    if (oneDash !== null) {
      return invalid(
        `-${echo(oneDash)} has one dash; options take two: --${oneDash}.` +
          (leading
            ? ''
            : ' To keep it in the question, put it in quotes or write `--` before the question.'),
        usage,
      );
    }
    if (flag === null) {
      i += 1;
      continue;
    }
    const typedDash = !token.value.startsWith('--');
    // Within the question, an arrow or rule ("--->", "---") is text, not an option.
    if (!leading && flag !== '--' && !/^--[a-z]/i.test(flag)) {
      i += 1;
      continue;
    }
    if (flag === '--') {
      // A lone dash in a sentence ("try it — maybe") is prose; a typed `--` ends the options.
      if (typedDash && !leading) {
        i += 1;
        continue;
      }
      cut(token.start, tokens[i + 1]?.start ?? text.length);
      break;
    }
    // Case does not matter, as for the subcommands (`START`, `--Minutes 5`, `--welfare Nash`).
    const name = (flag.slice(2).split('=')[0] ?? '').toLowerCase();
    const known =
      (START_SWITCHES as readonly string[]).includes(name) ||
      (START_FLAGS as readonly string[]).includes(name);
    if (!known) {
      // "—maybe" inside a sentence is a dash, not a mistyped option.
      if (typedDash && !leading) {
        i += 1;
        continue;
      }
      return invalid(
        `Unknown option --${echo(name)}; the options are ${[...START_FLAGS, ...START_SWITCHES].map((f) => `--${f}`).join(', ')}.` +
          (leading
            ? ''
            : ' To keep it in the question, put it in quotes or write `--` before the question.'),
        usage,
      );
    }
    // Given twice with a value, one would silently win: ask which one is meant.
    if ((START_FLAGS as readonly string[]).includes(name)) {
      if (given.has(name)) return invalid(`--${name} is given twice; give it once.`, usage);
      given.add(name);
    }
    if ((START_SWITCHES as readonly string[]).includes(name)) {
      if (flag.includes('=')) return invalid(`--${name} takes no value.`, usage);
      switches[name] = 'true';
      cut(token.start, end(token));
      i += 1;
      continue;
    }
    if (flag.includes('=')) {
      args.push(`--${name}${flag.slice(flag.indexOf('='))}`);
      cut(token.start, end(token));
      i += 1;
      continue;
    }
    const value = tokens[i + 1];
    if (value === undefined) return invalid(`${flag} needs a value.`, usage);
    // One `--flag=value` argument: as two, a value that starts with '-' (`--minutes -5`)
    // would read to parseArgs as another option, and its error would not name the rule.
    args.push(`--${name}=${value.value}`);
    cut(token.start, end(value));
    i += 2;
  }
  pieces.push(text.slice(cursor));
  let values: Record<string, string | undefined>;
  try {
    values = parseArgs({
      args,
      options: Object.fromEntries(START_FLAGS.map((f) => [f, { type: 'string' as const }])),
      strict: true,
      allowPositionals: false,
    }).values as Record<string, string | undefined>;
  } catch (error) {
    const detail = error instanceof Error ? error.message.split('\n')[0] : 'Invalid option.';
    return invalid(`${detail}`, usage);
  }
  // Where a flag was cut out, its two sides meet with one space; the rest keeps its spacing.
  const question = pieces
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .join(' ');
  const checked = validateStart({ ...values, ...switches, question: fromSlack(question) });
  if (!checked.ok) return invalid(checked.message, usage);
  return { kind: 'start', question: checked.question, settings: checked.settings };
}

/** `extend <minutes> [round-id]`: the current phase stays open that many minutes from now. */
function parseExtend(tokens: Token[], command: string): ParsedCommand {
  const usage = usageOf(command, 'extend');
  const [minutes, typedId, ...rest] = tokens.map((t) => t.value);
  const id = roundIdAsTyped(typedId);
  if (minutes === undefined || rest.length > 0) {
    return invalid(`\`${command} extend\` takes the minutes, then at most a round id.`, usage);
  }
  const parsed = wholeNumber('extend', 1, LIMITS.maxMinutes).safeParse(minutes);
  if (!parsed.success) {
    return invalid(`extend takes a whole number of minutes from 1 to ${LIMITS.maxMinutes}.`, usage);
  }
  if (id !== undefined && !KeySafeIdSchema.safeParse(id).success) {
    return invalid(`"${echo(id)}" is not a round id.`, usage);
  }
  return { kind: 'extend', minutes: parsed.data, roundId: id ?? null };
}

/**
 * A round id as the member gave it, without the backticks of a code span copied from the
 * bot's messages (it writes ids as \`r…\`), as Discord's `round` option reads it.
 */
function roundIdAsTyped(token: string | undefined): string | undefined {
  return token?.replace(/^`+|`+$/g, '');
}

function invalid(message: string, usage: string | null): ParsedCommand {
  return { kind: 'invalid', message: usage ? `${message}\nUsage: ${usage}` : message };
}

const SUBCOMMAND_HELP: Record<RoundSubcommand, string> = {
  close: 'end the opinion (or critique) phase and write the statement',
  status: 'where the round is',
  critique: 'ask for critiques of the statement; `close` then writes a revision',
  finish: 'end the poll and post the results',
  cancel: 'stop the round',
  results: 'the ratings so far, only to you',
  export:
    'the round as JSON and as the four Polis CSVs in its thread; `all` instead of a round id: ' +
    'every round of the workspace, for the configured moderators and the workspace’s owners, in a direct message',
};

/** One line per form, with `<`/`>` already escaped for mrkdwn. */
export function usageOf(command: string, kind: 'start' | 'extend' | RoundSubcommand): string {
  if (kind === 'extend') return `\`${command} extend &lt;minutes&gt; [round-id]\``;
  if (kind === 'export') return `\`${command} export [round-id | all]\``;
  if (kind === 'start') {
    return (
      `\`${command} start [--candidates N] [--minutes M] [--welfare ${WelfareNameSchema.options.join('|')}] ` +
      `[--scale approval3|likert7] [--poll-minutes M] [--remind-minutes M] [--hidden] [--anonymous] [--min-turnout N] [--revise-below P] &lt;question&gt;\``
    );
  }
  return `\`${command} ${kind} [round-id]\``;
}

export function helpText(command: string): string {
  return [
    `*${command}* finds a statement the whole channel can endorse.`,
    `• ${usageOf(command, 'start')} — ask this channel a question; replies in its thread are opinions. ` +
      'Options may also follow the question; to keep a `--word` in the question, quote it or write `--` before the question',
    `• \`${command}\` — a form with the main options (question, candidates, minutes, welfare, scale)`,
    ...ROUND_SUBCOMMANDS.map((k) => `• ${usageOf(command, k)} — ${SUBCOMMAND_HELP[k]}`),
    `• ${usageOf(command, 'extend')} — keep the opinions, critiques or poll open that many minutes from now`,
    `• \`${command} help\` — this message`,
    'Without a round id, a command is about the open round in this channel. ' +
      'On the statement, react with :+1: agree, :shrug: unsure or :-1: disagree ' +
      '(or :one: … :seven: on a 7-point poll); your latest reaction is your rating. ' +
      'In anonymous and hidden rounds, click a button under the statement instead: reactions do not count there.',
  ].join('\n');
}
