import { createRng, type Rng } from '../../domain/random.js';
import type { SparseVector } from '../text/tfidf.js';
import { opinionClusters } from './clusters.js';
import {
  type Factorisation,
  fitFactorisation,
  predictFactorisation,
  type SparseRatings,
} from './factorisation.js';
import { cosine, textVectors } from './text-similarity.js';

/**
 * The learned reward model on integer indices (members 0..m-1, statements 0..s-1); see
 * model.ts for the id-based API.
 *
 * Two stacked linear blends of simple predictors: one for statements with ratings
 * (factorisation, comment mean, neighbours' residuals, member mean, the member's opinion
 * group's approval), one for statements nobody has rated (member's bias, parameters
 * borrowed from textually similar statements and from the author, the member's own
 * residuals on similar statements). The blend weights are fitted on ratings held out
 * from the training ratings themselves — a random tenth of them, and a random fifth of
 * the statements hidden whole to simulate cold start — with the ridge strength chosen
 * by cross-validation on those held-out ratings, so each conversation gets the weights
 * its own data supports. Opinion groups are learned from the votes (clusters.ts) and
 * also give the bridging score, `consensus`.
 */

export interface CoreInput {
  ratings: SparseRatings;
  statementTexts: readonly string[];
  /** Author's member index per statement, -1 when unknown or not a member. */
  statementAuthors: readonly number[];
  /** A member's own words (opinion, or the statements they wrote); '' when none. */
  memberTexts: readonly string[];
}

export interface CoreOptions {
  factors: number;
  lambdaBias: number;
  lambdaFactor: number;
  seed: number;
  knnNeighbours: number;
  /** Co-rated statements at which a neighbour's similarity counts half. */
  knnShrink: number;
  /** Pseudo-weight of "no similar statement" when a new statement borrows parameters. */
  textShrink: number;
  /**
   * Candidate ridge strengths pulling blend weights towards their priors (in
   * squared-error units); the one with the lowest cross-validated error on the held-out
   * ratings is used, so a small conversation keeps close to the prior and a large one
   * follows its data.
   */
  blendRidges: readonly number[];
  /** Pseudo-votes the model's prediction for a group adds to the group's own votes in the consensus score. */
  consensusPrior: number;
  /** Learned groups smaller than this take no part in the consensus score (as in task C). */
  minGroupSize: number;
  /** Share of rated statements hidden whole to fit the cold-start blend. */
  coldShare: number;
  /** Share of the remaining ratings held out to fit the warm blend. */
  warmShare: number;
}

export const DEFAULT_CORE_OPTIONS: CoreOptions = {
  factors: 2,
  lambdaBias: 0.05,
  lambdaFactor: 0.05,
  seed: 0,
  knnNeighbours: 30,
  knnShrink: 10,
  textShrink: 0.5,
  blendRidges: [0.1, 1, 10, 100],
  consensusPrior: 10,
  minGroupSize: 5,
  coldShare: 0.2,
  warmShare: 0.1,
};

const WARM_PRIOR = [0, 1, 0, 0, 0, 0, 0];
const GROUP_SHRINK = 2;
const COLD_PRIOR = [0, 1, 0, 1, 1, 0, 0, 0, 0];

/** The single predictors, fitted on one set of ratings. */
class Components {
  readonly mf: Factorisation;
  private readonly k: number;
  private readonly s: number;
  private readonly neighbours: { index: Int32Array; weight: Float64Array }[];
  /** Dense residual (rating - factorisation), member-major; NaN where unrated. */
  private readonly residual: Float32Array;
  readonly rated: Uint8Array;
  private readonly commentMean: Float64Array;
  /** Per opinion group and statement, the group's approval shrunk to the statement's. */
  private readonly groupMean: Float64Array;
  readonly groupOf: Int32Array;
  readonly groups: number;
  /** Agrees and votes per statement and group (statement-major), for the consensus. */
  readonly groupAgrees: Float64Array;
  readonly groupVotes: Float64Array;
  private readonly memberMean: Float64Array;
  private readonly coldBias: Float64Array;
  private readonly coldFactors: Float64Array;
  private readonly coldNeighbours: ({ index: number[]; sim: number[] } | null)[];

  constructor(
    ratings: SparseRatings,
    private readonly text: TextView,
    private readonly options: CoreOptions,
  ) {
    const m = ratings.members;
    const s = ratings.statements;
    this.s = s;
    this.k = options.factors;
    this.mf = fitFactorisation(ratings, {
      factors: options.factors,
      lambdaBias: options.lambdaBias,
      lambdaFactor: options.lambdaFactor,
      seeds: [options.seed],
      tolerance: 1e-7,
      maxSweeps: 500,
      initScale: 0.1,
    });
    this.residual = new Float32Array(m * s).fill(Number.NaN);
    this.rated = new Uint8Array(s);
    const cSum = new Float64Array(s);
    const cCount = new Float64Array(s);
    const mSum = new Float64Array(m);
    const mCount = new Float64Array(m);
    const byStatement: number[][] = Array.from({ length: s }, () => []);
    for (let i = 0; i < ratings.value.length; i++) {
      const u = ratings.member[i] as number;
      const c = ratings.statement[i] as number;
      const a = ratings.value[i] as number;
      this.residual[u * s + c] = a - predictFactorisation(this.mf, u, c);
      this.rated[c] = 1;
      cSum[c] = (cSum[c] ?? 0) + a;
      cCount[c] = (cCount[c] ?? 0) + 1;
      mSum[u] = (mSum[u] ?? 0) + a;
      mCount[u] = (mCount[u] ?? 0) + 1;
      byStatement[c]?.push(u);
    }
    this.commentMean = cSum.map((x, c) => (x + 1) / ((cCount[c] as number) + 2));
    this.memberMean = mSum.map((x, u) => (x + 1) / ((mCount[u] as number) + 2));
    this.neighbours = this.findNeighbours(m, byStatement);
    const clustering = opinionClusters(ratings);
    this.groupOf = clustering.assignment;
    this.groups = clustering.groups;
    const G = this.groups;
    const gSum = new Float64Array(s * G);
    const gCount = new Float64Array(s * G);
    for (let i = 0; i < ratings.value.length; i++) {
      const g = this.groupOf[ratings.member[i] as number] as number;
      if (g < 0) continue;
      const cell = (ratings.statement[i] as number) * G + g;
      gSum[cell] = (gSum[cell] ?? 0) + (ratings.value[i] as number);
      gCount[cell] = (gCount[cell] ?? 0) + 1;
    }
    this.groupAgrees = new Float64Array(s * G);
    this.groupVotes = gCount;
    for (let i = 0; i < ratings.value.length; i++) {
      const g = this.groupOf[ratings.member[i] as number] as number;
      if (g < 0 || ratings.value[i] !== 1) continue;
      const cell = (ratings.statement[i] as number) * G + g;
      this.groupAgrees[cell] = (this.groupAgrees[cell] ?? 0) + 1;
    }
    this.groupMean = gSum.map(
      (x, cell) =>
        (x + GROUP_SHRINK * (this.commentMean[Math.floor(cell / G)] as number)) /
        ((gCount[cell] as number) + GROUP_SHRINK),
    );

    this.coldBias = new Float64Array(s);
    this.coldFactors = new Float64Array(s * this.k);
    this.coldNeighbours = Array.from({ length: s }, () => null);
    for (let c = 0; c < s; c++) if (this.rated[c] === 0) this.fitCold(c);
  }

  /** Members most alike in their residuals, cosine shrunk by the number co-rated. */
  private findNeighbours(m: number, byStatement: number[][]) {
    const s = this.s;
    const dot = new Float64Array(m * m);
    const common = new Float64Array(m * m);
    const r = this.residual;
    // Accumulated statement by statement: the cost is the sum of raters squared, far
    // below m * m * s on sparse conversations.
    for (let c = 0; c < s; c++) {
      const raters = byStatement[c] as number[];
      for (let x = 0; x < raters.length; x++) {
        const u = raters[x] as number;
        const ru = r[u * s + c] as number;
        for (let y = x + 1; y < raters.length; y++) {
          const v = raters[y] as number;
          const a = Math.min(u, v) * m + Math.max(u, v);
          dot[a] = (dot[a] ?? 0) + ru * (r[v * s + c] as number);
          common[a] = (common[a] ?? 0) + 1;
        }
      }
    }
    const sq = new Float64Array(m);
    for (let u = 0; u < m; u++) {
      for (let c = 0; c < s; c++) {
        const x = r[u * s + c] as number;
        if (!Number.isNaN(x)) sq[u] = (sq[u] ?? 0) + x * x;
      }
    }
    const out: { index: Int32Array; weight: Float64Array }[] = [];
    for (let u = 0; u < m; u++) {
      const candidates: { v: number; w: number }[] = [];
      for (let v = 0; v < m; v++) {
        if (v === u) continue;
        const a = Math.min(u, v) * m + Math.max(u, v);
        const n = common[a] as number;
        const norm = Math.sqrt((sq[u] as number) * (sq[v] as number));
        if (n === 0 || norm === 0) continue;
        candidates.push({ v, w: ((dot[a] as number) / norm) * (n / (n + this.options.knnShrink)) });
      }
      candidates.sort((p, q) => Math.abs(q.w) - Math.abs(p.w));
      const top = candidates.slice(0, this.options.knnNeighbours);
      out.push({
        index: Int32Array.from(top, (t) => t.v),
        weight: Float64Array.from(top, (t) => t.w),
      });
    }
    return out;
  }

  /** Borrows bias and factors for an unrated statement from similar rated ones. */
  private fitCold(c: number) {
    const k = this.k;
    const index: number[] = [];
    const sim: number[] = [];
    let total = 0;
    let bias = 0;
    const f = new Float64Array(k);
    for (let j = 0; j < this.s; j++) {
      if (this.rated[j] === 0) continue;
      const similarity = this.text.statementSimilarity(c, j);
      if (similarity <= 0) continue;
      // Squared, so that a close paraphrase outweighs many statements sharing one word.
      const w = similarity * similarity;
      index.push(j);
      sim.push(w);
      total += w;
      bias += w * (this.mf.statementBias[j] as number);
      for (let q = 0; q < k; q++) {
        f[q] = (f[q] ?? 0) + w * (this.mf.statementFactors[j * k + q] as number);
      }
    }
    const denom = total + this.options.textShrink;
    this.coldBias[c] = bias / denom;
    for (let q = 0; q < k; q++) this.coldFactors[c * k + q] = (f[q] as number) / denom;
    this.coldNeighbours[c] = { index, sim };
  }

  /** [1, factorisation, comment mean, neighbours' residual, member mean, is author, group mean]. */
  warmFeatures(u: number, c: number): number[] {
    const s = this.s;
    let knn = 0;
    const nb = this.neighbours[u];
    if (nb !== undefined) {
      let num = 0;
      let den = 0;
      for (let i = 0; i < nb.index.length; i++) {
        const r = this.residual[(nb.index[i] as number) * s + c] as number;
        if (Number.isNaN(r)) continue;
        const w = nb.weight[i] as number;
        num += w * r;
        den += Math.abs(w);
      }
      knn = num / (den + 1);
    }
    return [
      1,
      predictFactorisation(this.mf, u, c),
      this.commentMean[c] ?? 0.5,
      knn,
      this.memberMean[u] ?? 0.5,
      this.text.isAuthor(u, c) ? 1 : 0,
      this.groupPrediction(u, c),
    ];
  }

  groupPrediction(u: number, c: number): number {
    const g = this.groupOf[u] ?? -1;
    return g < 0 ? (this.commentMean[c] ?? 0.5) : (this.groupMean[c * this.groups + g] as number);
  }

  /**
   * [1, mu + b_u, member mean, borrowed bias, f_u . borrowed f, f_u . author's f,
   *  member's residual on similar statements, similarity to member's own words, is author].
   */
  coldFeatures(u: number, c: number): number[] {
    const k = this.k;
    const mf = this.mf;
    let textDot = 0;
    let authorDot = 0;
    const author = this.text.author(c);
    for (let q = 0; q < k; q++) {
      const fu = mf.memberFactors[u * k + q] ?? 0;
      textDot += fu * (this.coldFactors[c * k + q] ?? 0);
      if (author >= 0 && author !== u) authorDot += fu * (mf.memberFactors[author * k + q] ?? 0);
    }
    let personal = 0;
    const cold = this.coldNeighbours[c];
    if (cold) {
      let num = 0;
      let den = 0;
      cold.index.forEach((j, i) => {
        const r = this.residual[u * this.s + j] as number;
        if (Number.isNaN(r)) return;
        num += (cold.sim[i] as number) * r;
        den += cold.sim[i] as number;
      });
      personal = num / (den + this.options.textShrink);
    }
    return [
      1,
      mf.mu + (mf.memberBias[u] ?? 0),
      this.memberMean[u] ?? 0.5,
      this.coldBias[c] ?? 0,
      textDot,
      authorDot,
      personal,
      this.text.ownSimilarity(u, c),
      this.text.isAuthor(u, c) ? 1 : 0,
    ];
  }
}

/** Text similarities and authorship, shared by every fit. */
class TextView {
  private readonly statementVectors: SparseVector[];
  private readonly memberVectors: SparseVector[];
  private readonly cache = new Map<number, number>();

  constructor(private readonly input: CoreInput) {
    const s = input.statementTexts.length;
    const vectors = textVectors([...input.statementTexts, ...input.memberTexts]);
    this.statementVectors = vectors.slice(0, s);
    this.memberVectors = vectors.slice(s);
  }

  statementSimilarity(a: number, b: number): number {
    const key = Math.min(a, b) * this.statementVectors.length + Math.max(a, b);
    let v = this.cache.get(key);
    if (v === undefined) {
      v = cosine(this.statementVectors[a] ?? new Map(), this.statementVectors[b] ?? new Map());
      this.cache.set(key, v);
    }
    return v;
  }

  ownSimilarity(member: number, statement: number): number {
    const own = this.memberVectors[member];
    if (own === undefined || own.size === 0) return 0;
    return cosine(own, this.statementVectors[statement] ?? new Map());
  }

  author(statement: number): number {
    return this.input.statementAuthors[statement] ?? -1;
  }

  isAuthor(member: number, statement: number): boolean {
    return this.author(statement) === member;
  }
}

/** Ridge regression towards `prior`: (X'X + rI) w = X'y + r prior. */
function ridgeFit(rows: number[][], y: number[], prior: readonly number[], ridge: number) {
  const d = prior.length;
  const a = Array.from({ length: d }, (_, i) =>
    Array.from({ length: d }, (_, j) => (i === j ? ridge : 0)),
  );
  const b = prior.map((p) => p * ridge);
  rows.forEach((x, n) => {
    for (let i = 0; i < d; i++) {
      const xi = x[i] as number;
      (b as number[])[i] = (b[i] as number) + xi * (y[n] as number);
      const row = a[i] as number[];
      for (let j = 0; j < d; j++) row[j] = (row[j] as number) + xi * (x[j] as number);
    }
  });
  return solve(a, b);
}

const CV_FOLDS = 5;

/** The ridge fit whose strength has the lowest squared error over CV_FOLDS folds. */
function cvRidgeFit(
  rows: number[][],
  y: number[],
  prior: readonly number[],
  ridges: readonly number[],
  rng: Rng,
) {
  const fold = rows.map(() => Math.floor(rng.next() * CV_FOLDS));
  let best = { ridge: ridges[0] ?? 1, error: Number.POSITIVE_INFINITY };
  for (const ridge of ridges) {
    let error = 0;
    for (let f = 0; f < CV_FOLDS; f++) {
      const trainRows: number[][] = [];
      const trainY: number[] = [];
      rows.forEach((x, n) => {
        if (fold[n] !== f) {
          trainRows.push(x);
          trainY.push(y[n] as number);
        }
      });
      const w = ridgeFit(trainRows, trainY, prior, ridge);
      rows.forEach((x, n) => {
        if (fold[n] === f) error += (dot(w, x) - (y[n] as number)) ** 2;
      });
    }
    if (error < best.error) best = { ridge, error };
  }
  return ridgeFit(rows, y, prior, best.ridge);
}

/** Gaussian elimination with partial pivoting on a small dense system. */
function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i] as number]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) {
      if (Math.abs(m[r]?.[col] ?? 0) > Math.abs(m[pivot]?.[col] ?? 0)) pivot = r;
    }
    [m[col], m[pivot]] = [m[pivot] as number[], m[col] as number[]];
    const p = m[col] as number[];
    const div = p[col] as number;
    if (div === 0) continue;
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const row = m[r] as number[];
      const factor = (row[col] as number) / div;
      if (factor === 0) continue;
      for (let j = col; j <= n; j++) row[j] = (row[j] as number) - factor * (p[j] as number);
    }
  }
  return m.map((row, i) => {
    const d = row[i] as number;
    return d === 0 ? 0 : (row[n] as number) / d;
  });
}

function dot(w: readonly number[], x: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < w.length; i++) sum += (w[i] as number) * (x[i] as number);
  return sum;
}

function subset(r: SparseRatings, keep: (i: number) => boolean): SparseRatings {
  const idx: number[] = [];
  for (let i = 0; i < r.value.length; i++) if (keep(i)) idx.push(i);
  return {
    members: r.members,
    statements: r.statements,
    member: Int32Array.from(idx, (i) => r.member[i] as number),
    statement: Int32Array.from(idx, (i) => r.statement[i] as number),
    value: Float64Array.from(idx, (i) => r.value[i] as number),
  };
}

export class LearnedCore {
  private readonly components: Components;
  readonly warmWeights: number[];
  readonly coldWeights: number[];

  private readonly members: number[] = [];
  private readonly roomAgrees: Float64Array;
  private readonly roomVotes: Float64Array;

  constructor(
    input: CoreInput,
    private readonly options: CoreOptions = DEFAULT_CORE_OPTIONS,
  ) {
    const { ratings } = input;
    this.roomAgrees = new Float64Array(ratings.statements);
    this.roomVotes = new Float64Array(ratings.statements);
    const hasRatings = new Uint8Array(ratings.members);
    for (let i = 0; i < ratings.value.length; i++) {
      const c = ratings.statement[i] as number;
      hasRatings[ratings.member[i] as number] = 1;
      this.roomVotes[c] = (this.roomVotes[c] ?? 0) + 1;
      if (ratings.value[i] === 1) this.roomAgrees[c] = (this.roomAgrees[c] ?? 0) + 1;
    }
    hasRatings.forEach((flag, u) => {
      if (flag === 1) this.members.push(u);
    });
    const text = new TextView(input);
    const rng = createRng(options.seed);
    const coldStatement = Array.from(
      { length: ratings.statements },
      () => rng.next() < options.coldShare,
    );
    const warmHeldOut = Array.from(
      { length: ratings.value.length },
      () => rng.next() < options.warmShare,
    );
    const isHeldOut = (i: number) =>
      coldStatement[ratings.statement[i] as number] === true || warmHeldOut[i] === true;
    const inner = new Components(
      subset(ratings, (i) => !isHeldOut(i)),
      text,
      options,
    );

    const warmX: number[][] = [];
    const warmY: number[] = [];
    const coldX: number[][] = [];
    const coldY: number[] = [];
    for (let i = 0; i < ratings.value.length; i++) {
      if (!isHeldOut(i)) continue;
      const u = ratings.member[i] as number;
      const c = ratings.statement[i] as number;
      if (inner.rated[c] === 1) {
        warmX.push(inner.warmFeatures(u, c));
        warmY.push(ratings.value[i] as number);
      } else {
        coldX.push(inner.coldFeatures(u, c));
        coldY.push(ratings.value[i] as number);
      }
    }
    this.warmWeights = cvRidgeFit(warmX, warmY, WARM_PRIOR, options.blendRidges, rng);
    this.coldWeights = cvRidgeFit(coldX, coldY, COLD_PRIOR, options.blendRidges, rng);
    this.components = new Components(ratings, text, options);
  }

  isRated(statement: number): boolean {
    return this.components.rated[statement] === 1;
  }

  /** Predicted approval in [0, 1]. */
  predict(member: number, statement: number): number {
    const p = this.isRated(statement)
      ? dot(this.warmWeights, this.components.warmFeatures(member, statement))
      : dot(this.coldWeights, this.components.coldFeatures(member, statement));
    return Math.min(1, Math.max(0, p));
  }

  statementBias(statement: number): number {
    return this.components.mf.statementBias[statement] ?? 0;
  }

  /**
   * Bridging score: Polis's group-informed consensus, the product over opinion groups of
   * each group's smoothed agree rate, on groups learned from the ratings (no labels).
   * A group's few votes on a statement are noisy, so the model's mean prediction for
   * the group's members enters as `consensusPrior` extra votes; a statement nobody rated
   * gets its score from the predictions alone. Returned as a log, to keep precision.
   */
  consensus(statement: number): number {
    let cached = this.consensusCache.get(statement);
    if (cached === undefined) {
      cached = this.computeConsensus(statement);
      this.consensusCache.set(statement, cached);
    }
    return cached;
  }

  private readonly consensusCache = new Map<number, number>();

  private computeConsensus(c: number): number {
    const { groupOf, groups, groupAgrees, groupVotes } = this.components;
    const members: number[][] = Array.from({ length: groups }, () => []);
    groupOf.forEach((g, u) => {
      if (g >= 0) members[g]?.push(u);
    });
    const kappa = this.options.consensusPrior;
    let score = 0;
    let used = 0;
    for (let g = 0; g < groups; g++) {
      const group = members[g] as number[];
      if (group.length < this.options.minGroupSize) continue;
      let predicted = 0;
      for (const u of group) predicted += this.predict(u, c);
      predicted /= group.length;
      const agrees = groupAgrees[c * groups + g] as number;
      const votes = groupVotes[c * groups + g] as number;
      score += Math.log((agrees + kappa * predicted + 1) / (votes + kappa + 2));
      used++;
    }
    if (used >= 2) return score;
    // Without two groups to bridge, the room is one group: its smoothed approval.
    let predicted = 0;
    let n = 0;
    for (const u of this.members) {
      predicted += this.predict(u, c);
      n++;
    }
    const mean = n === 0 ? 0.5 : predicted / n;
    return Math.log(
      ((this.roomAgrees[c] ?? 0) + kappa * mean + 1) / ((this.roomVotes[c] ?? 0) + kappa + 2),
    );
  }
}
