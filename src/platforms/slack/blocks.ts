import type { types } from '@slack/bolt';
import { usageLines } from '../../deliberation/usage-text.js';
import type {
  CritiqueInviteView,
  NoticeView,
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
  unusedCritiquesNote,
} from '../../deliberation/views.js';
import { clipWords, LIMITS } from '../../domain/limits.js';
import { isTerminal } from '../../domain/phase.js';
import {
  type PollOption,
  type PollScale,
  PollScaleSchema,
  scaleAnchors,
} from '../../domain/poll-scale.js';
import { DEFAULT_SETTINGS } from '../../domain/round.js';
import { WelfareNameSchema } from '../../domain/welfare-name.js';
import { emojiFor } from './emoji.js';
import { chunk, escapeKeepingMentions, escapeText, mention, percent, slackDate } from './text.js';

type Block = types.KnownBlock;

/** What chat.postMessage / chat.update / respond get: `text` is the notification fallback. */
export interface SlackMessage {
  text: string;
  blocks: Block[];
}

/** A section holds 3,000 characters; leave room for the markup around the text. */
const SECTION_MAX = 2_900;
/** Beyond this many members the statement names only the least served. */
const PREDICTED_LISTED = 10;

const section = (text: string): Block => ({ type: 'section', text: { type: 'mrkdwn', text } });
const context = (...texts: string[]): Block => ({
  type: 'context',
  elements: texts.slice(0, 10).map((text) => ({ type: 'mrkdwn', text })),
});
const sections = (text: string): Block[] => chunk(text, SECTION_MAX).map(section);
/** A context line that may name many members, in as many blocks as its length needs. */
const contexts = (text: string): Block[] => chunk(text, SECTION_MAX).map((t) => context(t));

function legend(options: readonly PollOption[]): string {
  const anchors = scaleAnchors(options);
  return (
    options.map((o) => `:${emojiFor(o.key)}: ${o.label}`).join(' · ') +
    (anchors ? ` (${anchors})` : '')
  );
}

const SCALE_LABEL: Record<PollScale, string> = {
  approval3: 'agree / unsure / disagree',
  likert7: '1–7 agreement',
};

export function questionMessage(view: QuestionView): SlackMessage {
  const scale = SCALE_LABEL[view.scale as PollScale] ?? view.scale;
  const closes = view.deadline === null ? '' : ` · closes ${slackDate(view.deadline)}`;
  const askedBy = view.createdBy === null ? '' : ` Asked by ${mention(view.createdBy)}.`;
  return {
    text: `Question: ${escapeText(view.question)}`,
    blocks: [
      ...sections(`:speech_balloon: ${escapeText(view.question)}`),
      context(
        `Reply in this thread with your opinion; edits and deletions count.${askedBy}`,
        `Round \`${view.roundId}\` · ${view.candidates} candidate statements · ${view.welfare} welfare · ${scale} poll${closes}`,
      ),
    ],
  };
}

export function progressMessage(view: ProgressView): SlackMessage {
  const icon = {
    stopped: ':warning:',
    done: ':white_check_mark:',
    working: ':hourglass_flowing_sand:',
  }[view.state];
  const what = view.version > 1 ? `Revision ${view.version - 1}: ` : '';
  return {
    text: `${what}${view.summary}`,
    blocks: [
      section(`${icon} ${what}${escapeText(view.summary)}`),
      context(
        view.steps
          .map((s) => `${s.done ? ':heavy_check_mark:' : ':hourglass:'} ${escapeText(s.label)}`)
          .join('   '),
      ),
    ],
  };
}

/**
 * The actions block of a poll rated with buttons; its buttons' action ids are the prefix +
 * option key. The block id tells a click's handler which kind of round it is, so the
 * confirmation says the right thing: anonymous, or hidden until the finish.
 */
export const RATE_BLOCK_ID = 'consensus_rate';
export const RATE_HIDDEN_BLOCK_ID = 'consensus_rate_hidden';
export const RATE_BLOCK_PATTERN = /^consensus_rate(?:_hidden)?$/;
export const RATE_ACTION_PREFIX = 'rate_';

export function statementMessage(view: StatementView): SlackMessage {
  const predicted = view.predicted.filter(
    (p): p is { participantId: string; approval: number } => p.approval !== null,
  );
  const lowest = predicted.length > 0 ? Math.min(...predicted.map((p) => p.approval)) : null;
  const worst = predicted.filter((p) => p.approval === lowest).map((p) => p.participantId);
  const listed =
    predicted.length <= PREDICTED_LISTED
      ? predicted.map((p) => `${mention(p.participantId)} ${percent(p.approval)}`).join(' · ')
      : `${predicted.length} members, mean ${percent(predicted.reduce((s, p) => s + p.approval, 0) / predicted.length)}`;
  const blocks: Block[] = [
    section(`:ballot_box_with_ballot: *Proposed statement* (version ${view.version})`),
    ...sections(escapeText(view.statement)),
    context(
      `${escapeText(view.method)} Approvals predicted by ${escapeText(view.model)}.`,
      ...view.notes.map(escapeText),
    ),
  ];
  if (predicted.length > 0) {
    blocks.push(
      // Split: a large group tied at the lowest prediction names more than one text holds.
      ...sections(
        `*Predicted approval:* ${listed}\n` +
          `Least served: ${worst.map(mention).join(', ')} (${percent(lowest)}). What would make it work for them?`,
      ),
    );
  }
  const closes = view.pollCloses ? ` ${view.pollCloses}` : '';
  if (view.buttons) {
    blocks.push(
      section(
        view.anonymous
          ? `*Rate it* with a button: your rating is anonymous, and a new click replaces it.${closes}`
          : `*Rate it* with a button: ${HIDDEN_TALLY}. A new click replaces your rating.${closes}`,
      ),
      {
        type: 'actions',
        block_id: view.anonymous ? RATE_BLOCK_ID : RATE_HIDDEN_BLOCK_ID,
        // Slack shows at most 25 elements in one actions block; a scale has at most 7.
        elements: view.options.map((o) => ({
          type: 'button' as const,
          action_id: `${RATE_ACTION_PREFIX}${o.key}`,
          value: o.key,
          text: {
            type: 'plain_text' as const,
            text: `:${emojiFor(o.key)}: ${o.label}`,
            emoji: true,
          },
        })),
      },
    );
  } else {
    blocks.push(
      section(
        `*Rate it:* ${legend(view.options)}. React on this message; your latest reaction is your rating.${closes}`,
      ),
    );
  }
  return { text: `Proposed statement: ${escapeText(view.statement)}`, blocks };
}

export function critiqueInviteMessage(view: CritiqueInviteView): SlackMessage {
  return {
    text: 'What does the statement miss? Reply in this thread with your critique.',
    blocks: [
      section(
        ':pencil2: *What does this statement miss?* Reply in this thread with your critique.',
      ),
      ...sections(escapeText(view.statement)),
      context(critiqueNext(view.deadline, slackDate)),
    ],
  };
}

/** The exclusion check in one sentence; `name` formats a member for the platform. */
const members = (n: number) => `${n} member${n === 1 ? '' : 's'}`;

export function exclusionText(
  view: ResultsView,
  names: (ids: readonly string[]) => string,
): string {
  const { truncated, summarisedVersions } = view.exclusion;
  if (truncated.length === 0 && summarisedVersions.length === 0) {
    return 'Exclusion check: every opinion reached the statement writer in full.';
  }
  const parts: string[] = [];
  if (truncated.length > 0) {
    parts.push(
      `${truncated.length === 1 ? 'the opinion or critique' : 'the opinions or critiques'} of ${names(truncated)} ${truncated.length === 1 ? 'was' : 'were'} cut to the length limit`,
    );
  }
  if (summarisedVersions.length > 0) {
    parts.push(
      `version${summarisedVersions.length === 1 ? '' : 's'} ${summarisedVersions.join(', ')} ${summarisedVersions.length === 1 ? 'was' : 'were'} written from summaries of the opinions, not each one verbatim`,
    );
  }
  return `Exclusion check: ${parts.join('; ')}.`;
}

/** A version nobody rated, said in words. */
const NO_RATINGS = 'No ratings were given for this version.';

/** The label for members who critiqued but gave no opinion (issue 7's "accepted, labelled"). */
const CRITIQUED_ONLY = 'Critiqued without giving an opinion';

export function resultsBlocks(view: ResultsView): Block[] {
  // An anonymous round's view holds no ids (they are blanked): say how many, never who.
  const who = (ids: readonly string[]) =>
    view.anonymous ? members(ids.length) : ids.map(mention).join(', ');
  const head: Block[] = [
    section(`:bar_chart: *Results:* ${escapeText(clipWords(view.question, 300))}`),
  ];
  if (view.versions.length === 0) {
    head.push(section('No statement was put to the vote in this round.'));
  }
  const perVersion: Block[][] = view.versions.map(
    ({ version, statement, results: r, endorsement }) => {
      if (view.hidden) {
        return sections(
          [
            `*Version ${version}:* ${escapeText(clipWords(statement, 500))}`,
            `Approval predicted for ${members(r.predictedCount)}; ` +
              `${r.ratingCount} rating${r.ratingCount === 1 ? '' : 's'} so far. ${hiddenNote(view.phase)}`,
          ].join('\n'),
        );
      }
      const lines = [
        `*Version ${version}:* ${escapeText(clipWords(statement, 500))}`,
        `${r.ratingCount} rating${r.ratingCount === 1 ? '' : 's'} (${members(view.participants)} gave opinions)`,
        // How far the model's picture of the group reaches, beside how many answered for themselves.
        `Approval predicted for ${members(r.predictedCount)}, rated by ${r.ratingCount}`,
        // Zero counts and "n/a" alone read like a glitch; say plainly that nobody rated.
        ...(r.ratingCount === 0 ? [NO_RATINGS] : []),
        ...r.distribution.map((d) => `:${emojiFor(d.key)}: ${d.label}: ${d.count}`),
        `Mean approval: ${percent(r.meanApproval)} · ${r.welfareFunction} welfare: ${
          r.welfareValue === null ? 'n/a' : r.welfareValue.toFixed(3)
        }`,
      ];
      if (endorsement) lines.push(`Verdict: *${endorsement}*`);
      if (r.leastServed) {
        // The invitation that leads to a critique round (Discord's results ask it too);
        // in an anonymous round `who` counts members and names nobody.
        lines.push(
          `Least served (${r.leastServed.basis}): ${who(r.leastServed.participantIds)} ` +
            `at ${percent(r.leastServed.approval)}: what would make it work for them?`,
        );
      }
      if (r.meanAbsoluteError !== null) {
        lines.push(
          `Predicted vs. rated: mean absolute error ${r.meanAbsoluteError.toFixed(2)} over ${members(r.comparedCount)}`,
        );
      }
      if (r.predictedLeastServed) {
        lines.push(
          `Predicted to serve worst: ${who(r.predictedLeastServed.participantIds)} ` +
            `at ${percent(r.predictedLeastServed.approval)}`,
        );
      }
      const blocks = sections(lines.join('\n'));
      if (r.welfareNote) blocks.push(context(escapeText(r.welfareNote)));
      return blocks;
    },
  );
  const tail: Block[] = [];
  if (view.critiquedWithoutOpinion.length > 0) {
    tail.push(...contexts(`${CRITIQUED_ONLY}: ${who(view.critiquedWithoutOpinion)}`));
  }
  const unused = unusedCritiquesNote(view.unusedCritiques);
  if (unused) tail.push(context(unused));
  if (view.versions.length > 0) tail.push(...contexts(exclusionText(view, who)));
  if (view.model) tail.push(context(`Approvals were predicted by ${escapeText(view.model)}.`));
  const usage = usageLines(view.usage);
  if (usage.length > 0) tail.push(context(`Model use: ${usage.join('; ')}.`));
  return withinBlockLimit(head, perVersion, tail);
}

/** Slack refuses a message of more than 50 blocks (`invalid_blocks`), and the results would be lost. */
const MAX_BLOCKS = 50;

/**
 * A round revised many times, or a large group's names, can pass Slack's block limit:
 * as on Discord, the latest versions that fit are shown and a note says so. If even
 * the latest alone does not fit, the message is cut at the limit, with the same note.
 */
function withinBlockLimit(head: Block[], perVersion: Block[][], tail: Block[]): Block[] {
  const count = (groups: Block[][]) => groups.reduce((n, g) => n + g.length, 0);
  let shown = perVersion;
  const room = () =>
    MAX_BLOCKS - head.length - tail.length - (shown.length < perVersion.length ? 1 : 0);
  while (shown.length > 1 && count(shown) > room()) shown = shown.slice(1);
  if (shown.length === perVersion.length && count(shown) <= room()) {
    return [...head, ...shown.flat(), ...tail];
  }
  const note = context(
    shown.length < perVersion.length
      ? `Showing the latest ${shown.length} of ${perVersion.length} versions; \`/consensus export\` has them all.`
      : 'These results are longer than a Slack message holds, so they are cut; `/consensus export` has them all.',
  );
  return [...head, note, ...shown.flat(), ...tail].slice(0, MAX_BLOCKS);
}

export function resultsMessage(view: ResultsView): SlackMessage {
  return { text: `Results: ${resultsSummary(view)}`, blocks: resultsBlocks(view) };
}

/**
 * The results in one line, for the message's text (notifications, screen readers, search):
 * every version's count and mean, so a revision nobody rated does not hide the first poll.
 */
export function resultsSummary(view: ResultsView): string {
  if (view.versions.length === 0) {
    return isTerminal(view.phase)
      ? 'no statement was put to the vote.'
      : 'no statement has been put to the vote yet.';
  }
  const ratings = (n: number) => `${n} rating${n === 1 ? '' : 's'}`;
  if (view.hidden) {
    const total = view.versions.reduce((sum, v) => sum + v.results.ratingCount, 0);
    return view.phase === 'cancelled'
      ? `${ratings(total)}; hidden for good, as the round was cancelled.`
      : `${ratings(total)} so far; hidden until the round is finished.`;
  }
  const one = (v: (typeof view.versions)[number]) =>
    v.results.ratingCount === 0
      ? 'no ratings'
      : `${ratings(v.results.ratingCount)}, mean approval ${percent(v.results.meanApproval)}` +
        (v.endorsement ? `: ${v.endorsement}` : '');
  if (view.versions.length === 1) {
    const only = view.versions[0] as (typeof view.versions)[number];
    return only.results.ratingCount === 0 ? 'no ratings were given.' : one(only);
  }
  return `${view.versions.map((v) => `version ${v.version}: ${one(v)}`).join('; ')}.`;
}

export function noticeMessage(view: NoticeView): SlackMessage {
  const text = escapeKeepingMentions(view.text);
  // A reminder to a large group names more members than one section holds.
  return { text, blocks: sections(`:information_source: ${text}`) };
}

export function statusText(view: StatusView): string {
  const lines = [
    `Round \`${view.roundId}\`: ${escapeText(clipWords(view.question, 300))}`,
    `It is ${view.phaseText}: ${view.opinions} opinion${view.opinions === 1 ? '' : 's'}` +
      (view.version > 0
        ? `, statement version ${view.version}, ${view.ratings} rating${view.ratings === 1 ? '' : 's'}`
        : '') +
      (view.critiques > 0 ? `, ${view.critiques} critique${view.critiques === 1 ? '' : 's'}` : '') +
      '.',
  ];
  if (view.deadline !== null) lines.push(`Closes ${slackDate(view.deadline)}.`);
  if (view.failureReason) lines.push(`Last run failed: ${escapeText(view.failureReason)}`);
  const usage = usageLines(view.usage);
  if (usage.length > 0) lines.push(`Model use: ${usage.join('; ')}.`);
  return lines.join('\n');
}

export const START_MODAL_ID = 'consensus_start';

const option = (value: string) => ({
  text: { type: 'plain_text' as const, text: value },
  value,
});
const scaleOption = (scale: PollScale) => ({
  text: { type: 'plain_text' as const, text: `${SCALE_LABEL[scale]} (${scale})` },
  value: scale,
});

/**
 * `/consensus` alone: the start options as a form. The channel and the command's
 * response_url ride along in metadata: the submission is answered through the latter,
 * which works where the bot is not a member (chat.postEphemeral fails there).
 */
export function startModal(origin: {
  channelId: string;
  responseUrl: string | null;
}): types.ModalView {
  return {
    type: 'modal',
    callback_id: START_MODAL_ID,
    private_metadata: JSON.stringify(origin),
    title: { type: 'plain_text', text: 'Start a round' },
    submit: { type: 'plain_text', text: 'Start' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      {
        type: 'input',
        block_id: 'question',
        label: { type: 'plain_text', text: 'Question' },
        element: {
          type: 'plain_text_input',
          action_id: 'value',
          multiline: true,
          max_length: LIMITS.questionMaxChars,
          placeholder: { type: 'plain_text', text: 'Should our team adopt a four-day week?' },
        },
      },
      {
        type: 'input',
        block_id: 'candidates',
        optional: true,
        label: { type: 'plain_text', text: 'Candidate statements to write' },
        element: {
          type: 'number_input',
          action_id: 'value',
          is_decimal_allowed: false,
          min_value: String(LIMITS.minCandidates),
          max_value: String(LIMITS.maxCandidates),
          initial_value: String(DEFAULT_SETTINGS.candidates),
        },
      },
      {
        type: 'input',
        block_id: 'minutes',
        optional: true,
        label: { type: 'plain_text', text: 'Minutes to collect opinions (empty: until closed)' },
        element: {
          type: 'number_input',
          action_id: 'value',
          is_decimal_allowed: false,
          min_value: '1',
          max_value: String(LIMITS.maxMinutes),
        },
      },
      {
        type: 'input',
        block_id: 'welfare',
        label: { type: 'plain_text', text: 'How to weigh members (welfare function)' },
        element: {
          type: 'static_select',
          action_id: 'value',
          options: WelfareNameSchema.options.map(option),
          initial_option: option(DEFAULT_SETTINGS.welfare),
        },
      },
      {
        type: 'input',
        block_id: 'scale',
        label: { type: 'plain_text', text: 'Poll' },
        element: {
          type: 'static_select',
          action_id: 'value',
          options: PollScaleSchema.options.map(scaleOption),
          initial_option: scaleOption(DEFAULT_SETTINGS.scale),
        },
      },
    ],
  };
}
