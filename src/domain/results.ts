import { DomainError } from './errors.js';
import { optionFor, type PollScale, pollOptions } from './poll-scale.js';
import type { Rating } from './rating.js';
import { isScalarWelfare, type ScalarWelfareName, welfareScore } from './welfare.js';
import type { WelfareName } from './welfare-name.js';

export interface OptionCount {
  key: string;
  label: string;
  approval: number;
  count: number;
}

/** The members a statement serves worst, and on what evidence. */
export interface LeastServed {
  /** Every member at the lowest approval, sorted by id. */
  participantIds: string[];
  approval: number;
  /** 'rated' = their own ratings; 'predicted' = the model's guess, used before anyone rated. */
  basis: 'rated' | 'predicted';
}

export interface PollResults {
  scale: PollScale;
  /** The round's welfare function. */
  welfare: WelfareName;
  /** The function `welfareValue` was computed with; Schulze falls back to utilitarian. */
  welfareFunction: ScalarWelfareName;
  /** Set when `welfareFunction` differs from `welfare`, saying why, fit to show a user. */
  welfareNote: string | null;
  /** Ratings counted: each member's latest one. */
  ratingCount: number;
  /** One entry per option of the scale, in the scale's order, including zero counts. */
  distribution: OptionCount[];
  meanApproval: number | null;
  /** `welfareFunction` of the actual approvals; null without ratings. */
  welfareValue: number | null;
  leastServed: LeastServed | null;
  /**
   * Whose view the statement serves worst by the model's per-member prediction, rated or
   * not: the exclusion check beside the ratings (members left out tend to dissent).
   */
  predictedLeastServed: LeastServed | null;
  /** Members with a (non-null) predicted approval. */
  predictedCount: number;
  /** Mean predicted approval over those members (the chart sets it beside the actual mean). */
  meanPredictedApproval: number | null;
  /** Members with both a prediction and a rating: the base of `meanAbsoluteError`. */
  comparedCount: number;
  /** Mean |predicted - actual| over the compared members; null when there are none. */
  meanAbsoluteError: number | null;
}

export interface PollResultsInput {
  scale: PollScale;
  ratings: readonly Rating[];
  /** Predicted approval per participant for the polled statement; null = not predicted. */
  predicted: Readonly<Record<string, number | null>>;
  welfare: WelfareName;
  /** Opinion group per participant (from the scores' matrix), for bridging welfare. */
  groups?: Readonly<Record<string, number>>;
}

export const SCHULZE_RESULTS_NOTE =
  'Schulze ranks candidates rather than scoring one statement, so this welfare is the mean approval (utilitarian).';

/**
 * Each member's latest rating (by `at`; on equal times the later in the array), since a
 * member who changes their reaction changes their rating rather than adding one.
 */
export function latestRatings(ratings: readonly Rating[]): Rating[] {
  const latest = new Map<string, Rating>();
  for (const rating of ratings) {
    const current = latest.get(rating.participantId);
    if (current === undefined || rating.at >= current.at) latest.set(rating.participantId, rating);
  }
  return [...latest.values()];
}

function mean(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

function lowest(entries: readonly (readonly [string, number])[]): {
  participantIds: string[];
  approval: number;
} | null {
  if (entries.length === 0) return null;
  const approval = Math.min(...entries.map(([, u]) => u));
  const participantIds = entries
    .filter(([, u]) => u === approval)
    .map(([id]) => id)
    .sort();
  return { participantIds, approval };
}

/** The results of one poll, as `/consensus finish` reports them. */
export function pollResults(input: PollResultsInput): PollResults {
  const { scale, welfare } = input;
  const ratings = latestRatings(input.ratings);
  for (const rating of ratings) {
    if (optionFor(scale, rating.optionKey) === undefined) {
      throw new DomainError(
        'invalid_input',
        `Rating by "${rating.participantId}" uses option "${rating.optionKey}", which the ${scale} scale does not have.`,
      );
    }
  }

  const distribution = pollOptions(scale).map((option) => ({
    key: option.key,
    label: option.label,
    approval: option.approval,
    count: ratings.filter((r) => r.optionKey === option.key).length,
  }));

  const actual = ratings.map((r) => r.approval);
  const welfareFunction: ScalarWelfareName = isScalarWelfare(welfare) ? welfare : 'utilitarian';
  const groups = input.groups;
  const raterGroups = ratings.map((r) => groups?.[r.participantId] ?? -1);
  const welfareValue =
    actual.length > 0 ? welfareScore(welfareFunction, actual, raterGroups) : null;

  const predictedEntries: [string, number][] = [];
  for (const [id, u] of Object.entries(input.predicted)) {
    if (u !== null) predictedEntries.push([id, u]);
  }
  const predictedById = new Map(predictedEntries);

  const errors: number[] = [];
  for (const rating of ratings) {
    const guess = predictedById.get(rating.participantId);
    if (guess !== undefined) errors.push(Math.abs(guess - rating.approval));
  }

  const ratedLowest = lowest(ratings.map((r) => [r.participantId, r.approval] as const));
  const predictedLowest = lowest(predictedEntries);
  let leastServed: LeastServed | null = null;
  if (ratedLowest) leastServed = { ...ratedLowest, basis: 'rated' };
  else if (predictedLowest) leastServed = { ...predictedLowest, basis: 'predicted' };

  return {
    scale,
    welfare,
    welfareFunction,
    welfareNote: welfareFunction === welfare ? null : SCHULZE_RESULTS_NOTE,
    ratingCount: ratings.length,
    distribution,
    meanApproval: mean(actual),
    welfareValue,
    leastServed,
    predictedLeastServed: predictedLowest ? { ...predictedLowest, basis: 'predicted' } : null,
    predictedCount: predictedEntries.length,
    meanPredictedApproval: mean(predictedEntries.map(([, u]) => u)),
    comparedCount: errors.length,
    meanAbsoluteError: mean(errors),
  };
}

/**
 * Ratings are sixths (approval3: 0, 1/2, 1; likert7: 0, 1/6 … 1), so a poll's mean is a
 * fraction of denominator 6N, but summed in floating point it can land a hair beside the
 * value it equals: 4/7, 5/7 and 3/7 give 0.49999999999999994, not 0.5. A verdict must not
 * turn on that. Two different means of N ratings are at least 1/(6N) apart, so this
 * tolerance only ever settles exact ties, for any poll of fewer than 10^8 raters.
 */
const TIE_TOLERANCE = 1e-9;

/**
 * Whether a mean approval is under `fraction` (0.5 = 50%), exact ties counting as not
 * under: what "endorsed at 50%" and `--revise-below P` decide on.
 */
export function approvalBelow(meanApproval: number, fraction: number): boolean {
  return meanApproval < fraction - TIE_TOLERANCE;
}

/** Whether a poll's statement can be declared endorsed under the round's turnout rule. */
export type Endorsement = 'endorsed' | 'not endorsed' | 'not enough ratings';

/**
 * The verdict on a poll with a minimum turnout: too few ratings and no claim is made
 * either way; otherwise a mean approval of at least half endorses it. Null when the
 * round set no minimum (0): then the results report numbers only, as before.
 */
export function endorsement(results: PollResults, minTurnout: number): Endorsement | null {
  if (minTurnout <= 0) return null;
  if (results.ratingCount < minTurnout || results.meanApproval === null) {
    return 'not enough ratings';
  }
  return approvalBelow(results.meanApproval, 0.5) ? 'not endorsed' : 'endorsed';
}

/**
 * The results with everything but the counts of ratings and predictions removed, for a
 * hidden round before it is finished: what is not in the view cannot leak into a message.
 */
export function concealed(results: PollResults): PollResults {
  return {
    ...results,
    distribution: results.distribution.map((d) => ({ ...d, count: 0 })),
    meanApproval: null,
    welfareValue: null,
    leastServed: null,
    predictedLeastServed: null,
    meanPredictedApproval: null,
    comparedCount: 0,
    meanAbsoluteError: null,
  };
}

/** The results with every member id blanked: an anonymous round names nobody. */
export function withoutNames(results: PollResults): PollResults {
  const blank = (l: LeastServed | null) =>
    l && { ...l, participantIds: l.participantIds.map(() => '') };
  return {
    ...results,
    leastServed: blank(results.leastServed),
    predictedLeastServed: blank(results.predictedLeastServed),
  };
}

/**
 * Whether every one of `participants` (the members who gave an opinion, under the ids their
 * ratings are stored by) has rated the poll: from then on its mean approval moves only if a
 * member changes their mind. Others' ratings count in the mean, not here.
 */
export function everyoneRated(
  participants: readonly string[],
  ratings: readonly Pick<Rating, 'participantId'>[],
): boolean {
  if (participants.length === 0) return false;
  const rated = new Set(ratings.map((r) => r.participantId));
  return participants.every((id) => rated.has(id));
}
