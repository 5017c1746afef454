import type { Candidate } from '../domain/candidate.js';
import type { RoundPhase } from '../domain/phase.js';
import { optionLabel, type PollOption } from '../domain/poll-scale.js';
import type { Endorsement, PollResults } from '../domain/results.js';
import type { MessageRef, Round } from '../domain/round.js';
import type { ThreadGone } from './ports.js';

/** What every view says about its round: enough to find the channel and thread. */
export interface RoundHeader {
  roundId: string;
  channelId: string;
  question: string;
  /** The question's message; its thread is where the round talks. Null before it is posted. */
  thread: MessageRef | null;
}

export function headerOf(round: Round): RoundHeader {
  return {
    roundId: round.id,
    channelId: round.channelId,
    question: round.question,
    thread: round.questionRef,
  };
}

export interface QuestionView extends RoundHeader {
  /**
   * Who started the round; null in an anonymous round, where the slash command that
   * started it is invisible to the channel and this message would be what names them.
   */
  createdBy: string | null;
  deadline: number | null;
  candidates: number;
  welfare: string;
  scale: string;
}

export interface ProgressStep {
  label: string;
  done: boolean;
}

export interface ProgressView extends RoundHeader {
  version: number;
  steps: ProgressStep[];
  /** Whether the run is under way, done, or stopped (failed or cancelled) before the end. */
  state: 'working' | 'done' | 'stopped';
  /** One line, e.g. "Working on it: 2 of 3 steps done." */
  summary: string;
}

export interface StatementView extends RoundHeader {
  version: number;
  /** Ratings are anonymous; `predicted` is empty so no member is named. */
  anonymous: boolean;
  /** Rated with buttons, not reactions (anonymous or hidden rounds: see ratesWithButtons). */
  buttons: boolean;
  statement: string;
  options: readonly PollOption[];
  method: string;
  /** Predicted approval per member, best served first. */
  predicted: { participantId: string; approval: number | null }[];
  /** Candidates the statement was chosen from, with their welfare, best first. */
  considered: { candidate: Candidate; welfare: number | null; mean: number | null }[];
  model: string;
  notes: string[];
  /** When the poll closes on its own, said from the post ("… after this post"); absent: it does not. */
  pollCloses?: string;
}

export interface CritiqueInviteView extends RoundHeader {
  version: number;
  statement: string;
  deadline: number | null;
}

export interface VersionResults {
  version: number;
  statement: string;
  results: PollResults;
  /** With a minimum turnout (`--min-turnout`): the verdict on this version; else null. */
  endorsement: Endorsement | null;
}

/** Model calls and tokens per pipeline stage ('generate', 'score'); empty for offline models. */
export type RoundUsage = Record<
  string,
  { calls: number; promptTokens: number; completionTokens: number }
>;

/** Whether every opinion reached the statement writer whole (issue 7's exclusion check). */
export interface ExclusionCheck {
  /** Members whose opinion or critique was over the length limit and reached it cut. */
  truncated: string[];
  /** Versions written from cluster summaries of the opinions rather than from each verbatim. */
  summarisedVersions: number[];
}

export interface ResultsView extends RoundHeader {
  phase: RoundPhase;
  /**
   * A hidden round (`--hidden`) before it is finished: each version's results hold only
   * the rating count (see `concealed`); renderers say the rest comes at the finish.
   */
  hidden: boolean;
  /**
   * An anonymous round: every member id in the view is blanked (''), so renderers say
   * how many members, never which.
   */
  anonymous: boolean;
  versions: VersionResults[];
  /** Which model predicted the approvals; version by version when the versions differ. */
  model: string | null;
  participants: number;
  /**
   * Members who critiqued a version but gave no opinion (issue 7: accepted, and labelled so
   * readers know the revision heard them only through their critique). Blanked ('') when
   * the round is anonymous, like every other id in the view.
   */
  critiquedWithoutOpinion: string[];
  /**
   * Members who critiqued the last statement of a round that was then finished instead
   * of revised: no revision used their critiques, and the results say so rather than
   * drop them silently. 0 until the round is finished, and after a revision.
   */
  unusedCritiques: number;
  usage: RoundUsage;
  exclusion: ExclusionCheck;
}

/**
 * What a hidden round's results say instead of the numbers. A cancelled round never
 * finishes, so its results stay hidden for good: "until the round is finished" would
 * promise what never comes.
 */
export function hiddenNote(phase: RoundPhase): string {
  return phase === 'cancelled'
    ? 'The round was cancelled before it finished, so its results stay hidden.'
    : 'The results are hidden until the round is finished.';
}

/** What the results say of critiques that no revision used (see `unusedCritiques`). */
export function unusedCritiquesNote(count: number): string | null {
  if (count === 0) return null;
  const who = count === 1 ? '1 member critiqued' : `${count} members critiqued`;
  return `${who} the last statement; the round was finished on it, so no revision used ${count === 1 ? 'the critique' : 'their critiques'}.`;
}

/** Answered to a `close` that posts again a statement whose earlier tries all failed. */
export function repostText(roundId: string): string {
  return `The statement of round \`${roundId}\` never reached its thread: posting it again now. If it still cannot be posted, the channel is told again.`;
}

/** Said in a round's thread when its open poll's statement was deleted. */
export function statementDeletedNotice(round: Pick<Round, 'id' | 'deadline'>): string {
  const when = round.deadline === null ? '' : ', or at the poll’s deadline';
  return `The statement of round \`${round.id}\` was deleted, so it can no longer be rated. The ratings given so far are kept: \`/consensus finish\` posts the results on them${when}; \`/consensus cancel\` ends the round without results.`;
}

/**
 * A member's words quoted in what the service writes, in parentheses and quotation marks.
 * Slack and Discord read `<@id>` and `<#id>` in the bot's own text as mentions (Slack keeps
 * the service's own, `escapeKeepingMentions`), so a literal one a member typed into a
 * question would ping or show a link with a label of their choosing: a zero-width space
 * after its `<` leaves it looking the same but inert.
 */
export function quoted(text: string): string {
  return `(“${text.replace(/<(?=[@#!])/g, '<\u200B')}”)`;
}

/**
 * Said in the thread when a set's deadline passed without enough in it to close on
 * (`opinions` of the `needed`; critiques: none). The deadline is gone, so the thread is
 * told who can move the round on, and how.
 */
export function deadlineMissedNotice(
  set: { kind: 'critique' } | { kind: 'opinion'; opinions: number; needed: number },
): string {
  const next =
    'a moderator (or the member who started the round) can then run `/consensus close`, ' +
    'or `/consensus extend <minutes>` to set a new deadline';
  if (set.kind === 'critique') {
    return `Critiques were due by now, but none came in. They stay open with no deadline: reply in this thread to say what the statement misses; ${next}, or \`/consensus finish\` to end the round on the statement as it is.`;
  }
  const have = `${set.opinions} opinion${set.opinions === 1 ? '' : 's'}`;
  return `Opinions were due by now, but the round has ${have} and needs at least ${set.needed} to find common ground. It stays open with no deadline: reply in this thread with your opinion; once there are enough, ${next}.`;
}

/**
 * What follows the critiques, said with the invitation to write them: nothing is revised
 * until they close, and a moderator closes them when no deadline does. `when` writes a
 * time the way the platform shows it.
 */
export function critiqueNext(deadline: number | null, when: (at: number) => string): string {
  const closes =
    deadline === null
      ? 'When a moderator closes critiques (`/consensus close`)'
      : `When critiques close ${when(deadline)} (or sooner, with a moderator's \`/consensus close\`)`;
  return `${closes}, a revised statement is written from everyone's opinions and critiques and put to a new poll. Until then, ratings of this statement still count.`;
}

/** What a hidden round's poll keeps back, and what its results show once it is finished. */
export const HIDDEN_TALLY =
  'the tally stays hidden until the round is finished; the results then show it, and name the members who rated lowest';

/** What a member is told after a rating button's click: "anonymous" only when it is. */
export function ratedNote(kind: 'anonymous' | 'hidden' | null, optionKey: string): string {
  const label = optionLabel(optionKey);
  if (kind === 'anonymous')
    return `Your anonymous rating: ${label}. Click another button to change it.`;
  const hidden =
    kind === 'hidden' ? ` ${HIDDEN_TALLY[0]?.toUpperCase()}${HIDDEN_TALLY.slice(1)}.` : '';
  return `Your rating: ${label}.${hidden} Click another button to change it.`;
}

/** Where a round still open lives, for what its starter is told about its channel. */
export function openRoundIn(round: Pick<Round, 'id' | 'question' | 'channelId'>): string {
  return `<#${round.channelId}>, where round \`${round.id}\` ${quoted(round.question)} is still open`;
}

/**
 * Said in the channel when a round's thread was deleted (or locked) and the round cancelled
 * for it; for a channel out of reach, said to the member who started the round.
 */
export function threadGoneNotice(
  round: Pick<Round, 'id' | 'question' | 'channelId'>,
  how: ThreadGone = 'deleted',
): string {
  if (how === 'channel') {
    return `Round \`${round.id}\` ${quoted(round.question)} in <#${round.channelId}> is cancelled: the bot can no longer post in that channel (it was archived or deleted, or the bot was removed from it). Start a new one with \`/consensus start\` in a channel the bot is in.`;
  }
  const why = how === 'locked' ? 'locked, so nothing more can be posted there and' : 'deleted, so';
  return `The thread of round \`${round.id}\` ${quoted(round.question)} was ${why} the round is cancelled. Start a new one with \`/consensus start\`.`;
}

export interface NoticeView extends RoundHeader {
  text: string;
  /**
   * Members the notice is addressed to (a reminder to rate); adapters that suppress
   * pings let these through. Absent: nobody is pinged.
   */
  mentions?: string[];
}

export interface StatusView extends RoundHeader {
  phase: RoundPhase;
  phaseText: string;
  opinions: number;
  critiques: number;
  version: number;
  ratings: number;
  deadline: number | null;
  failureReason: string | null;
  usage: RoundUsage;
}
