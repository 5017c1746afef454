import type { Rng } from '../../domain/random.js';

/**
 * Linear blends of predictors, fitted by ridge regression towards a prior weight vector
 * with the ridge strength chosen by cross-validation: the data decide how far the
 * weights may move from the prior, so a small conversation stays near it.
 */

export function dot(w: readonly number[], x: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < w.length; i++) sum += w[i]! * x[i]!;
  return sum;
}

/** X'X and X'y of some rows: all a ridge fit needs, and additive over folds. */
interface Moments {
  xx: number[][];
  xy: number[];
}

function emptyMoments(d: number): Moments {
  return {
    xx: Array.from({ length: d }, () => new Array<number>(d).fill(0)),
    xy: new Array<number>(d).fill(0),
  };
}

function accumulate(into: Moments, x: readonly number[], y: number) {
  const d = x.length;
  for (let i = 0; i < d; i++) {
    const xi = x[i]!;
    into.xy[i]! += xi * y;
    const row = into.xx[i]!;
    for (let j = 0; j < d; j++) row[j]! += xi * x[j]!;
  }
}

function addMoments(into: Moments, from: Moments) {
  into.xy.forEach((_, i) => {
    into.xy[i]! += from.xy[i]!;
    const row = into.xx[i]!;
    from.xx[i]!.forEach((v, j) => {
      row[j]! += v;
    });
  });
}

/** (X'X + rI) w = X'y + r prior. */
function solveRidge(moments: Moments, prior: readonly number[], ridge: number): number[] {
  const a = moments.xx.map((row, i) => row.map((v, j) => (i === j ? v + ridge : v)));
  const b = moments.xy.map((v, i) => v + ridge * prior[i]!);
  return solve(a, b);
}

/** Ridge regression towards `prior`: (X'X + rI) w = X'y + r prior. */
export function ridgeFit(
  rows: readonly (readonly number[])[],
  y: readonly number[],
  prior: readonly number[],
  ridge: number,
): number[] {
  const moments = emptyMoments(prior.length);
  rows.forEach((x, n) => {
    accumulate(moments, x, y[n]!);
  });
  return solveRidge(moments, prior, ridge);
}

export const CV_FOLDS = 5;

/**
 * The ridge fit whose prior and strength have the lowest squared error over CV_FOLDS
 * folds. Besides the given prior, the constant prediction (the mean of y) is a
 * candidate prior: where no predictor generalises, the blend can fall back on it.
 * `cluster[n]`, when given, keeps rows of one cluster in one fold: cold-start rows are
 * votes, but what has to generalise is from some statements to other statements. With
 * fewer clusters than folds there is nothing to validate on (a workspace's first poll or
 * two), so the prior stands: a member's own bias, not a constant that forgets what they
 * said.
 */
export function cvRidgeFit(
  rows: readonly (readonly number[])[],
  y: readonly number[],
  prior: readonly number[],
  ridges: readonly number[],
  rng: Rng,
  cluster?: readonly number[],
): number[] {
  if (rows.length === 0) return [...prior];
  if (cluster !== undefined && new Set(cluster).size < CV_FOLDS) return [...prior];
  const d = prior.length;
  const fold = assignFolds(rows.length, rng, cluster);
  const byFold = Array.from({ length: CV_FOLDS }, () => emptyMoments(d));
  rows.forEach((x, n) => {
    accumulate(byFold[fold[n]!]!, x, y[n]!);
  });
  const total = emptyMoments(d);
  for (const m of byFold) addMoments(total, m);
  const mean = y.reduce((a, b) => a + b, 0) / y.length;
  const constant = prior.map((_, i) => (i === 0 ? mean : 0));
  let best = { prior, ridge: ridges[0] ?? 1, error: Number.POSITIVE_INFINITY };
  for (const candidate of [prior, constant]) {
    for (const ridge of ridges) {
      const error = cvError(rows, y, fold, byFold, total, candidate, ridge);
      if (error < best.error) best = { prior: candidate, ridge, error };
    }
  }
  return solveRidge(total, best.prior, best.ridge);
}

function assignFolds(n: number, rng: Rng, cluster?: readonly number[]): Int32Array {
  const fold = new Int32Array(n);
  const clusterFold = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    if (cluster === undefined) {
      fold[i] = Math.floor(rng.next() * CV_FOLDS);
      continue;
    }
    const c = cluster[i]!;
    let f = clusterFold.get(c);
    if (f === undefined) {
      f = Math.floor(rng.next() * CV_FOLDS);
      clusterFold.set(c, f);
    }
    fold[i] = f;
  }
  return fold;
}

/** Squared error of each fold's rows under the fit on the other folds, summed. */
function cvError(
  rows: readonly (readonly number[])[],
  y: readonly number[],
  fold: Int32Array,
  byFold: readonly Moments[],
  total: Moments,
  prior: readonly number[],
  ridge: number,
): number {
  const weights = byFold.map((m) => {
    const rest = emptyMoments(prior.length);
    addMoments(rest, total);
    m.xy.forEach((v, i) => {
      rest.xy[i]! -= v;
      m.xx[i]!.forEach((w, j) => {
        rest.xx[i]![j]! -= w;
      });
    });
    return solveRidge(rest, prior, ridge);
  });
  let error = 0;
  rows.forEach((x, n) => {
    error += (dot(weights[fold[n]!]!, x) - y[n]!) ** 2;
  });
  return error;
}

/** Gaussian elimination with partial pivoting on a small dense system. */
function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) {
      if (Math.abs(m[r]![col]!) > Math.abs(m[pivot]![col]!)) pivot = r;
    }
    [m[col], m[pivot]] = [m[pivot]!, m[col]!];
    const p = m[col]!;
    const div = p[col]!;
    if (div === 0) continue;
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const row = m[r]!;
      const factor = row[col]! / div;
      if (factor === 0) continue;
      for (let j = col; j <= n; j++) row[j]! -= factor * p[j]!;
    }
  }
  return m.map((row, i) => {
    const d = row[i]!;
    return d === 0 ? 0 : row[n]! / d;
  });
}
