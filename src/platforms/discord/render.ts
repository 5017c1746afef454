import {
  type APIActionRowComponent,
  type APIButtonComponent,
  type APIEmbed,
  type APIEmbedField,
  ButtonStyle,
  ComponentType,
} from 'discord.js';
import { usageLines } from '../../deliberation/usage-text.js';
import type {
  CritiqueInviteView,
  ProgressView,
  QuestionView,
  ResultsView,
  StatementView,
  StatusView,
} from '../../deliberation/views.js';
import {
  critiqueNext,
  HIDDEN_TALLY,
  hiddenNote,
  openRoundIn,
  unusedCritiquesNote,
} from '../../deliberation/views.js';
import { clipWords, wholeEnd } from '../../domain/limits.js';
import type { Round } from '../../domain/round.js';
import { emojiFor, pollLegend, scaleReactions } from './emoji.js';

/** Discord's documented embed limits; a longer embed is refused with a 400. */
const EMBED = {
  title: 256,
  description: 4096,
  fieldName: 256,
  fieldValue: 1024,
  fields: 25,
  footer: 2048,
  total: 6000,
} as const;

/** Message content limit for bots. */
export const CONTENT_MAX = 2000;
/** Users one message may ping (Discord's limit on allowed_mentions.users). */
export const MAX_PINGS = 100;
/** Thread names are 1-100 characters. */
const THREAD_NAME_MAX = 100;

const COLOUR = { question: 0x5865f2, statement: 0x57f287, results: 0xfee75c, status: 0x99aab5 };

export function clip(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

/**
 * Text in pieces of at most `max` UTF-16 units (no more characters than that), cut at a
 * line break or space where there is one in the second half, so a mention (`<@id>`, no
 * spaces) stays whole, and never inside an emoji.
 */
export function splitContent(text: string, max: number): string[] {
  const pieces: string[] = [];
  let rest = text;
  while (rest.length > max) {
    const window = rest.slice(0, max + 1);
    const cut = Math.max(window.lastIndexOf('\n'), window.lastIndexOf(' '));
    const at = cut > max / 2 ? cut : wholeEnd(rest, max);
    pieces.push(rest.slice(0, at).trimEnd());
    rest = rest.slice(at).trimStart();
  }
  if (rest.length > 0) pieces.push(rest);
  return pieces;
}

const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
const percent = (x: number | null) => (x === null ? 'n/a' : `${Math.round(x * 100)}%`);
const mention = (userId: string) => `<@${userId}>`;

/** The exclusion check in one sentence; `name` formats a member for the platform. */
function exclusionText(view: ResultsView, names: (ids: readonly string[]) => string): string {
  const { truncated, summarisedVersions } = view.exclusion;
  if (truncated.length === 0 && summarisedVersions.length === 0) {
    return 'Exclusion check: every opinion reached the statement writer in full.';
  }
  const parts: string[] = [];
  if (truncated.length > 0) {
    parts.push(`cut to the length limit: ${names(truncated)}`);
  }
  if (summarisedVersions.length > 0) {
    parts.push(`written from summaries of the opinions: version ${summarisedVersions.join(', ')}`);
  }
  return `Exclusion check: ${parts.join('; ')}.`;
}
const timestamp = (ms: number) => `<t:${Math.floor(ms / 1000)}:R>`;

function field(name: string, value: string, inline = false): APIEmbedField {
  return {
    name: clip(name, EMBED.fieldName),
    value: clip(value.trim() === '' ? '-' : value, EMBED.fieldValue),
    inline,
  };
}

function embedLength(embed: APIEmbed): number {
  return (
    (embed.title?.length ?? 0) +
    (embed.description?.length ?? 0) +
    (embed.footer?.text.length ?? 0) +
    (embed.fields ?? []).reduce((n, f) => n + f.name.length + f.value.length, 0)
  );
}

/** Keeps an embed inside Discord's total limit by shortening its description, which is the long part. */
function withinLimits(embed: APIEmbed): APIEmbed {
  const fields = (embed.fields ?? []).slice(0, EMBED.fields);
  const fitted: APIEmbed = {
    ...embed,
    ...(embed.title !== undefined && { title: clip(embed.title, EMBED.title) }),
    ...(embed.description !== undefined && {
      description: clip(embed.description, EMBED.description),
    }),
    ...(embed.footer !== undefined && { footer: { text: clip(embed.footer.text, EMBED.footer) } }),
    fields,
  };
  const over = embedLength(fitted) - EMBED.total;
  if (over > 0 && fitted.description !== undefined) {
    fitted.description = clip(fitted.description, Math.max(1, fitted.description.length - over));
  }
  return fitted;
}

/**
 * Told to a round's starter when the bot can no longer see its channel, or lost other
 * permissions a round needs there (`missing`, as discord.js names them): the round stays
 * open, and nothing said there reaches the bot while it cannot see the channel.
 */
export function lostPermissionsText(
  round: Pick<Round, 'id' | 'question' | 'channelId'>,
  missing: readonly string[],
): string {
  const where = openRoundIn(round);
  if (missing.includes('ViewChannel')) {
    return `The bot can no longer see ${where}: its View Channel permission there was taken away. Once a server admin gives it back, the bot reads what was said meanwhile; until then nothing can be posted there.`;
  }
  return `The bot lost permissions a round needs in ${where}: ${missing.join(', ')}. Until a server admin gives them back (to its role, or in the channel's permissions), the round's messages cannot be posted there.`;
}

export function threadName(question: string): string {
  const name = clip(question.replace(/\s+/g, ' ').trim(), THREAD_NAME_MAX);
  return name === '' ? 'Consensus round' : name;
}

export function questionEmbed(view: QuestionView): APIEmbed {
  const settings = [
    `${view.candidates} candidate statements`,
    `${view.welfare} welfare`,
    `poll ${scaleReactions(view.scale)}`,
  ].join(' · ');
  const closes = view.deadline === null ? '' : `\nOpinions close ${timestamp(view.deadline)}.`;
  return withinLimits({
    color: COLOUR.question,
    title: '❓ What do you think?',
    description:
      `**${inert(view.question)}**\n\n` +
      'Reply in the thread under this message with your opinion. Several replies from one member ' +
      `are read together; edits and deletions count.${closes}`,
    fields: [
      ...(view.createdBy === null ? [] : [field('Started by', mention(view.createdBy), true)]),
      field('Settings', settings, true),
    ],
    footer: { text: `Round ${view.roundId}` },
  });
}

export function progressText(view: ProgressView): string {
  const steps = view.steps.map((s) => `${s.done ? '✅' : '⏳'} ${s.label}`).join('\n');
  return clip(`**${view.summary}**\n${steps}`, CONTENT_MAX);
}

/** At most this many members are listed by name; the rest are counted. */
const LISTED_MEMBERS = 12;

/** Names up to LISTED_MEMBERS, then how many more: a large tie would fill the field. */
function clipNames(names: readonly string[]): string {
  if (names.length <= LISTED_MEMBERS) return names.join(', ');
  return `${names.slice(0, LISTED_MEMBERS).join(', ')} and ${names.length - LISTED_MEMBERS} more`;
}

function predictedLines(view: StatementView): string {
  const rated = view.predicted.filter((p) => p.approval !== null);
  if (rated.length === 0) return 'No predictions.';
  const shown =
    rated.length <= LISTED_MEMBERS
      ? rated
      : [...rated.slice(0, LISTED_MEMBERS / 2), ...rated.slice(-LISTED_MEMBERS / 2)];
  const lines = shown.map((p) => `${mention(p.participantId)} ${percent(p.approval)}`);
  if (shown.length < rated.length) {
    lines.splice(LISTED_MEMBERS / 2, 0, `… ${rated.length - shown.length} more …`);
  }
  return lines.join('\n');
}

export function statementEmbed(view: StatementView): APIEmbed {
  // As Slack says it: the method names the candidates it chose from, and every member tied
  // at the lowest prediction is named, not one of them.
  const predicted = view.predicted.flatMap((p) => (p.approval === null ? [] : [p.approval]));
  const lowest = predicted.length > 0 ? Math.min(...predicted) : null;
  const worst = view.predicted.filter((p) => p.approval !== null && p.approval === lowest);
  const how = [
    `${view.method} Approvals predicted by ${view.model}.`,
    lowest === null
      ? ''
      : `Least served: ${clipNames(worst.map((p) => mention(p.participantId)))} (${percent(lowest)}). What would make it work for them?`,
  ]
    .filter(Boolean)
    .join(' ');
  return withinLimits({
    color: COLOUR.statement,
    title: `🗳️ Proposed statement (version ${view.version})`,
    description: inert(view.statement),
    fields: [
      field('Round', `${view.roundId} · ${inert(view.question)}`),
      field('How it was chosen', how),
      // An anonymous round's predictions are withheld, not missing: no field at all.
      ...(view.anonymous ? [] : [field('Predicted approval', predictedLines(view))]),
      ...(view.notes.length > 0 ? [field('Notes', view.notes.join('\n'))] : []),
      field(
        'Rate it',
        (view.buttons
          ? `${pollLegend(view.options)}\nClick a button below: ${view.anonymous ? 'your rating is anonymous, and a new click replaces it' : `${HIDDEN_TALLY}. A new click replaces your rating`}.`
          : `${pollLegend(view.options)}\nReact below; your latest reaction counts, removing it withdraws it.`) +
          (view.pollCloses ? `\n${view.pollCloses}` : ''),
      ),
    ],
    footer: { text: `Round ${view.roundId} · version ${view.version}` },
  });
}

/**
 * Members' words (a question, an opinion a statement quotes) in the bot's own message: a
 * masked link there, `[label](url)`, would show as the bot's link under a label of the
 * member's choosing; with its `(` escaped it shows as typed.
 */
export function inert(text: string): string {
  return text.replaceAll('](', ']\\(');
}

export function critiqueInviteText(view: CritiqueInviteView): string {
  const quoted = clip(inert(view.statement), 1500)
    .split('\n')
    .map((l) => `> ${l}`)
    .join('\n');
  return clip(
    `✍️ **What does this statement miss?** Reply in this thread with a critique. ${critiqueNext(view.deadline, timestamp)}\n${quoted}`,
    CONTENT_MAX,
  );
}

export function resultsEmbed(view: ResultsView): APIEmbed {
  // An anonymous round's view holds no ids (they are blanked): say how many, never who.
  // A field holds 1,024 characters, some 40 mentions: past NAMED_IN_RESULTS the rest are
  // counted, where the field's cut would leave half an id and drop the others unsaid.
  const who = (ids: readonly string[]) => {
    if (view.anonymous) return count(ids.length, 'member');
    const named = ids.slice(0, NAMED_IN_RESULTS).map(mention).join(', ');
    return ids.length > NAMED_IN_RESULTS
      ? `${named} and ${count(ids.length - NAMED_IN_RESULTS, 'other')}`
      : named;
  };
  const fields = view.versions.map(({ version, statement, results, endorsement }) => {
    // Counts only, so it names nobody in an anonymous round, and a hidden round keeps both.
    const coverage = `Approval predicted for ${count(results.predictedCount, 'member')}, rated by ${results.ratingCount}.`;
    if (view.hidden) {
      return field(
        `Version ${version}`,
        `> ${clipWords(inert(statement).replace(/\s+/g, ' '), 300)}\n${results.ratingCount} rating${results.ratingCount === 1 ? '' : 's'} so far. ${hiddenNote(view.phase)}\n${coverage}`,
      );
    }
    const counts = results.distribution
      .map((d) => `${emojiFor(d.key)} ${d.label} **${d.count}**`)
      .join(' · ');
    const lines = [
      `> ${clipWords(inert(statement).replace(/\s+/g, ' '), 300)}`,
      coverage,
      // Zero counts and "n/a" alone read like a glitch; say plainly that nobody rated.
      results.ratingCount === 0 ? `${counts}\nNo ratings were given for this version.` : counts,
      // The ratings' count beside how many gave opinions: "2 ratings from 4 members" read
      // as though all four had rated, and raters who gave no opinion count in the first.
      `${results.ratingCount} rating${results.ratingCount === 1 ? '' : 's'} (${count(view.participants, 'member')} gave opinions) · mean approval ${percent(results.meanApproval)} · ${results.welfareFunction} welfare ${results.welfareValue === null ? 'n/a' : results.welfareValue.toFixed(3)}`,
    ];
    if (results.welfareNote) lines.push(`_${results.welfareNote}_`);
    if (endorsement) lines.push(`Verdict: **${endorsement}**`);
    if (results.leastServed) {
      lines.push(
        `Least served (${results.leastServed.basis}): ${who(results.leastServed.participantIds)} at ${percent(results.leastServed.approval)}: what would make it work for them?`,
      );
    }
    if (results.meanAbsoluteError !== null) {
      lines.push(
        `Predicted vs. rated: mean absolute error ${results.meanAbsoluteError.toFixed(2)} over ${count(results.comparedCount, 'member')}`,
      );
    }
    if (results.predictedLeastServed) {
      lines.push(
        `Predicted to serve worst: ${who(results.predictedLeastServed.participantIds)} at ${percent(results.predictedLeastServed.approval)}`,
      );
    }
    return field(`Version ${version}`, lines.join('\n'));
  });
  const usage = usageLines(view.usage).join('\n');
  const extra = usage ? [field('Model usage', usage)] : [];
  const title = '📊 Results';
  const footer = {
    text: `Round ${view.roundId}${view.model ? ` · approvals predicted by ${view.model}` : ''}`,
  };
  const unused = unusedCritiquesNote(view.unusedCritiques);
  const details = `${view.versions.length === 0 ? '\n\nNo statement was put to a vote.' : `\n\n${exclusionText(view, who)}`}${
    view.critiquedWithoutOpinion.length > 0
      ? `\nCritiqued without giving an opinion: ${who(view.critiquedWithoutOpinion)}`
      : ''
  }${unused ? `\n${unused}` : ''}`;
  // Discord refuses an embed over 6,000 characters or 25 fields, and a round revised
  // several times (or a large group's names) passes that: the latest versions that fit
  // are shown, as on the chart, with room kept for the question, and the embed says so.
  let shown = fields;
  const size = (kept: APIEmbedField[]) =>
    embedLength({
      title,
      description: clip(`**${inert(view.question)}**${details}`, DESCRIPTION_KEPT),
      footer,
      fields: [...kept, ...extra],
    }) + LEFT_OUT_NOTE;
  while (
    shown.length > 1 &&
    (shown.length + extra.length > EMBED.fields || size(shown) > EMBED.total)
  ) {
    shown = shown.slice(1);
  }
  const leftOut =
    shown.length < fields.length
      ? `\nShowing the latest ${shown.length} of ${fields.length} versions; \`/consensus export\` has them all.`
      : '';
  return withinLimits({
    color: COLOUR.results,
    title,
    description: `**${inert(view.question)}**${leftOut}${details}`,
    fields: [...shown, ...extra],
    footer,
  });
}

/** Members a results line names before it counts the rest. */
const NAMED_IN_RESULTS = 12;

/** Of the results' description, what a long round keeps beside its versions' fields. */
const DESCRIPTION_KEPT = 800;
/** Room for the note that versions were left out. */
const LEFT_OUT_NOTE = 100;

export function statusEmbed(view: StatusView): APIEmbed {
  const fields = [
    field('Phase', view.phaseText, true),
    field('Opinions', String(view.opinions), true),
    field('Version', String(view.version), true),
  ];
  if (view.version > 0) {
    fields.push(
      field('Critiques', String(view.critiques), true),
      field('Ratings', String(view.ratings), true),
    );
  }
  if (view.deadline !== null) fields.push(field('Closes', timestamp(view.deadline), true));
  if (view.failureReason) fields.push(field('Failure', view.failureReason));
  const usage = usageLines(view.usage).join('\n');
  if (usage) fields.push(field('Model usage', usage));
  return withinLimits({
    color: COLOUR.status,
    title: `Round ${view.roundId}`,
    description: inert(view.question),
    fields,
  });
}

export const HELP_TEXT = [
  '**/consensus** finds a statement your whole group can endorse.',
  '`/consensus start question:<text>`: post a question; replies in its thread are opinions. Options: `candidates`, `minutes` (close automatically), `welfare`, `scale`, `poll_minutes` (finish each poll automatically), `remind_minutes`, `anonymous`, `hidden`, `min_turnout`, `revise_below`.',
  '`/consensus close`: stop collecting and write the statement (needs 2 opinions).',
  '`/consensus critique`: collect critiques of the statement in the thread, then `close` again for a revision.',
  '`/consensus finish`: end the poll and post the results.',
  '`/consensus extend minutes:<M>`: keep the opinions, critiques or poll open M minutes from now.',
  '`/consensus status` · `results` · `cancel`',
  '`/consensus export`: the round as JSON and as the four Polis CSVs, only to you (save the CSVs into one folder for `npm run eval`); `workspace:true`: every round of the server, for members with Manage Server or a moderator role given by id.',
  'Rate a statement by reacting; your latest reaction counts (in `anonymous` and `hidden` rounds, click a button under it instead: reactions do not count there). Moderators (Manage Server, Manage Messages, or a configured role) and the member who started a round may close, critique, finish and cancel it. Add `round:<id>` when a channel has several open rounds.',
].join('\n');

/** Custom ids of a buttons poll's buttons: the prefix, the poll's kind, the option key. */
export const RATE_BUTTON_PREFIX = 'consensus:rate:';

/**
 * Why a poll rates with buttons: 'anonymous' (nobody sees who rated what) or 'hidden' (the
 * tally waits for the finish, ratings are under members' ids). A click's confirmation
 * must say the right one, and the click carries no more than its custom id.
 */
export type RateButtonKind = 'anonymous' | 'hidden';

export function rateButtonId(kind: RateButtonKind, optionKey: string): string {
  return `${RATE_BUTTON_PREFIX}${kind}:${optionKey}`;
}

/**
 * Reads a rating button's custom id. `kind` is null for buttons posted before the kind
 * was part of the id (`consensus:rate:<key>`); null overall for any other custom id.
 */
export function parseRateButton(
  customId: string,
): { kind: RateButtonKind | null; optionKey: string } | null {
  if (!customId.startsWith(RATE_BUTTON_PREFIX)) return null;
  const parts = customId.slice(RATE_BUTTON_PREFIX.length).split(':');
  const [first, second] = parts;
  if (!first || parts.length > 2) return null;
  if (second === undefined) return { kind: null, optionKey: first };
  if ((first !== 'anonymous' && first !== 'hidden') || !second) return null;
  return { kind: first, optionKey: second };
}

/** A buttons poll's buttons, five to a row (Discord's limit), in the scale's order. */
export function rateButtons(view: StatementView): APIActionRowComponent<APIButtonComponent>[] {
  const kind: RateButtonKind = view.anonymous ? 'anonymous' : 'hidden';
  const rows: APIActionRowComponent<APIButtonComponent>[] = [];
  view.options.forEach((option, i) => {
    if (i % 5 === 0) rows.push({ type: ComponentType.ActionRow, components: [] });
    rows.at(-1)?.components.push({
      type: ComponentType.Button,
      style: ButtonStyle.Secondary,
      custom_id: rateButtonId(kind, option.key),
      label: option.label,
      emoji: { name: emojiFor(option.key) },
    });
  });
  return rows;
}
