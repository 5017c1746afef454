import { Fraction } from './fraction.js';

/** A score a method ranks by: a float, or an exact fraction where ties must be exact. */
export type Score = number | Fraction;

export function compareScores(a: Score, b: Score): number {
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  if (a instanceof Fraction && b instanceof Fraction) return a.compare(b);
  const x = typeof a === 'number' ? a : a.toNumber();
  const y = typeof b === 'number' ? b : b.toNumber();
  return x < y ? -1 : x > y ? 1 : 0;
}

/** 1-based ranks, ascending, with tied values sharing the mean of their ranks. */
export function averageRanks(values: readonly Score[]): number[] {
  const order = values.map((_, i) => i);
  order.sort((i, j) => compareScores(values[i] as Score, values[j] as Score));
  const ranks = new Array<number>(values.length).fill(0);
  let start = 0;
  while (start < order.length) {
    let end = start + 1;
    while (
      end < order.length &&
      compareScores(
        values[order[end] as number] as Score,
        values[order[start] as number] as Score,
      ) === 0
    ) {
      end++;
    }
    // Positions start..end-1 hold ranks start+1..end; their mean is (start + end + 1) / 2.
    const rank = (start + end + 1) / 2;
    for (let k = start; k < end; k++) ranks[order[k] as number] = rank;
    start = end;
  }
  return ranks;
}

/**
 * ROC AUC with `positive[i]` the class of `scores[i]`: the probability that a random
 * positive outscores a random negative, ties counting one half (Mann-Whitney U on
 * average ranks). null when either class is empty.
 */
export function rocAuc(scores: readonly number[], positive: readonly boolean[]): number | null {
  if (scores.length !== positive.length) throw new RangeError('scores and labels differ in length');
  const ranks = averageRanks(scores);
  let positives = 0;
  let rankSum = 0;
  ranks.forEach((rank, i) => {
    if (positive[i]) {
      positives++;
      rankSum += rank;
    }
  });
  const negatives = scores.length - positives;
  if (positives === 0 || negatives === 0) return null;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/**
 * Spearman's rho: Pearson's correlation of the average ranks. null with fewer than two
 * items or when either side is constant (the correlation is undefined).
 */
export function spearman(x: readonly Score[], y: readonly Score[]): number | null {
  if (x.length !== y.length) throw new RangeError('x and y differ in length');
  if (x.length < 2) return null;
  return pearson(averageRanks(x), averageRanks(y));
}

export function pearson(x: readonly number[], y: readonly number[]): number | null {
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i] as number;
    my += y[i] as number;
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (x[i] as number) - mx;
    const dy = (y[i] as number) - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return null;
  return sxy / Math.sqrt(sxx * syy);
}

/**
 * max truth - truth of the item the score puts first; when several items tie for the
 * top score, the mean of their truths. null when there are no items.
 */
export function regretAt1(score: readonly Score[], truth: readonly number[]): number | null {
  if (score.length === 0) return null;
  let best: Score = score[0] as Score;
  for (const s of score) if (compareScores(s, best) > 0) best = s;
  let sum = 0;
  let count = 0;
  let maxTruth = Number.NEGATIVE_INFINITY;
  score.forEach((s, i) => {
    const t = truth[i] as number;
    if (t > maxTruth) maxTruth = t;
    if (compareScores(s, best) === 0) {
      sum += t;
      count++;
    }
  });
  return maxTruth - sum / count;
}
