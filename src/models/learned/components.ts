import { type Clustering, opinionClusters } from './clusters.js';
import {
  type Factorisation,
  fitFactorisation,
  predictFactorisation,
  type SparseRatings,
} from './factorisation.js';
import type { TextView } from './text-similarity.js';

/**
 * The single predictors the learned model blends, fitted on one set of ratings, and the
 * feature vectors they give a (member, statement) pair. The model fits them once per
 * cross-fitting fold and once on every rating (core.ts).
 */

export interface ComponentOptions {
  factors: number;
  lambdaBias: number;
  lambdaFactor: number;
  seed: number;
  knnNeighbours: number;
  /** Co-rated statements at which a neighbour's similarity counts half. */
  knnShrink: number;
  /** Pseudo-weight of "no similar statement" when a new statement borrows from similar ones. */
  textShrink: number;
  /** Pseudo-votes of the statement's mean in a learned group's mean. */
  groupShrink: number;
}

/** Names of the warm features, in order (1 is the intercept). */
export const WARM_FEATURES = [
  '1',
  'factorisation',
  'statement mean',
  'neighbours',
  'member mean',
  'is author',
  'group mean',
] as const;

/** Names of the cold-start features, in order. */
export const COLD_FEATURES = [
  '1',
  'mu + member bias',
  'member mean',
  'borrowed statement bias',
  'statement length',
  'member factors . borrowed factors',
  'member factors . author factors',
  'member residual on similar statements',
  'member deviation on similar statements',
  'similarity to own words',
  'is author',
  "author's other statements' bias",
] as const;

interface Neighbours {
  index: Int32Array;
  weight: Float64Array;
}

interface Borrowed {
  index: number[];
  weight: number[];
}

export class Components {
  readonly mf: Factorisation;
  /** Whether a statement has at least one rating here. */
  readonly rated: Uint8Array;
  readonly clustering: Clustering;
  private readonly s: number;
  private readonly k: number;
  /** Dense residual (rating - factorisation), member-major; NaN where unrated. */
  private readonly residual: Float32Array;
  /** Dense (rating - statement mean), member-major; NaN where unrated. */
  private readonly deviation: Float32Array;
  private readonly statementMean: Float64Array;
  private readonly memberMean: Float64Array;
  /** Per statement and group, the group's mean approval shrunk to the statement's. */
  private readonly groupMean: Float64Array;
  private readonly neighbours: Neighbours[];
  private readonly borrowedBias: Float64Array;
  /** Mean of TextView.length over the rated statements. */
  private meanLength = 0;
  private readonly borrowedFactors: Float64Array;
  private readonly borrowed: (Borrowed | null)[];
  /** Per unrated statement, the mean bias of its author's rated statements (shrunk to 0). */
  private readonly authorBias: Float64Array;

  constructor(
    ratings: SparseRatings,
    private readonly text: TextView,
    private readonly options: ComponentOptions,
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
      tolerance: 1e-4,
      maxSweeps: 500,
      initScale: 0.1,
    });
    const stats = ratingStats(ratings);
    this.rated = Uint8Array.from(stats.statementCount, (n) => (n > 0 ? 1 : 0));
    this.statementMean = smoothedMeans(stats.statementSum, stats.statementCount);
    this.memberMean = smoothedMeans(stats.memberSum, stats.memberCount);
    this.residual = residuals(ratings, this.mf);
    this.deviation = deviations(ratings, this.statementMean);
    this.neighbours = memberNeighbours(this.residual, stats.raters, m, s, options);
    this.clustering = opinionClusters(ratings);
    this.groupMean = groupMeans(ratings, this.clustering, this.statementMean, options.groupShrink);

    this.borrowedBias = new Float64Array(s);
    this.borrowedFactors = new Float64Array(s * this.k);
    this.borrowed = Array.from({ length: s }, () => null);
    this.authorBias = new Float64Array(s);
    const unrated: number[] = [];
    for (let c = 0; c < s; c++) if (this.rated[c] === 0) unrated.push(c);
    if (unrated.length > 0) this.fitCold(unrated);
  }

  /** Warm features of WARM_FEATURES for a statement with ratings. */
  warmFeatures(u: number, c: number): number[] {
    return [
      1,
      predictFactorisation(this.mf, u, c),
      this.statementMean[c] ?? 0.5,
      this.neighbourResidual(u, c),
      this.memberMean[u] ?? 0.5,
      this.text.isAuthor(u, c) ? 1 : 0,
      this.groupPrediction(u, c),
    ];
  }

  /** Cold-start features of COLD_FEATURES for a statement nobody rated here. */
  coldFeatures(u: number, c: number): number[] {
    const k = this.k;
    const fu = this.mf.memberFactors;
    let borrowedDot = 0;
    let authorDot = 0;
    const author = this.text.author(c);
    for (let q = 0; q < k; q++) {
      const f = fu[u * k + q] ?? 0;
      borrowedDot += f * (this.borrowedFactors[c * k + q] ?? 0);
      if (author >= 0 && author !== u) authorDot += f * (fu[author * k + q] ?? 0);
    }
    return [
      1,
      this.mf.mu + (this.mf.memberBias[u] ?? 0),
      this.memberMean[u] ?? 0.5,
      this.borrowedBias[c] ?? 0,
      this.text.length(c) - this.meanLength,
      borrowedDot,
      authorDot,
      this.personalResidual(u, c, this.residual),
      this.personalResidual(u, c, this.deviation),
      this.text.ownSimilarity(u, c),
      this.text.isAuthor(u, c) ? 1 : 0,
      this.authorBias[c] ?? 0,
    ];
  }

  private groupPrediction(u: number, c: number): number {
    const g = this.clustering.assignment[u] ?? -1;
    if (g < 0) return this.statementMean[c] ?? 0.5;
    return this.groupMean[c * this.clustering.groups + g]!;
  }

  /** Neighbours' residuals on the statement, weighted by their similarity to the member. */
  private neighbourResidual(u: number, c: number): number {
    const nb = this.neighbours[u];
    if (nb === undefined) return 0;
    let num = 0;
    let den = 0;
    for (let i = 0; i < nb.index.length; i++) {
      const r = this.residual[nb.index[i]! * this.s + c]!;
      if (Number.isNaN(r)) continue;
      const w = nb.weight[i]!;
      num += w * r;
      den += Math.abs(w);
    }
    return num / (den + 1);
  }

  /** The member's own residuals on statements textually like the unrated one. */
  private personalResidual(u: number, c: number, residual: Float32Array): number {
    const near = this.borrowed[c];
    if (!near) return 0;
    let num = 0;
    let den = 0;
    near.index.forEach((j, i) => {
      const r = residual[u * this.s + j]!;
      if (Number.isNaN(r)) return;
      num += near.weight[i]! * r;
      den += near.weight[i]!;
    });
    return num / (den + this.options.textShrink);
  }

  private fitCold(unrated: readonly number[]) {
    const rated: number[] = [];
    let lengthSum = 0;
    for (let c = 0; c < this.s; c++) {
      if (this.rated[c] === 0) continue;
      rated.push(c);
      lengthSum += this.text.length(c);
    }
    this.meanLength = rated.length === 0 ? 0 : lengthSum / rated.length;
    for (const c of unrated) this.borrow(c, rated);
    this.fitAuthorBias(unrated, rated);
  }

  /**
   * How the author's other statements were received: a member who writes statements the
   * room approves of tends to write more of them. Shrunk by textShrink pseudo-statements
   * of bias 0, so an author of one statement says little.
   */
  private fitAuthorBias(unrated: readonly number[], rated: readonly number[]) {
    const sum = new Map<number, number>();
    const count = new Map<number, number>();
    for (const j of rated) {
      const author = this.text.author(j);
      if (author < 0) continue;
      sum.set(author, (sum.get(author) ?? 0) + this.mf.statementBias[j]!);
      count.set(author, (count.get(author) ?? 0) + 1);
    }
    for (const c of unrated) {
      const author = this.text.author(c);
      if (author < 0) continue;
      this.authorBias[c] =
        (sum.get(author) ?? 0) / ((count.get(author) ?? 0) + this.options.textShrink);
    }
  }

  /** Bias and factors for an unrated statement, from the rated ones like it in text. */
  private borrow(c: number, rated: readonly number[]) {
    const k = this.k;
    const near: Borrowed = { index: [], weight: [] };
    let total = 0;
    let bias = 0;
    for (const j of rated) {
      const similarity = this.text.statementSimilarity(c, j);
      if (similarity <= 0) continue;
      // Squared, so that a close paraphrase outweighs many statements sharing one word.
      const w = similarity * similarity;
      near.index.push(j);
      near.weight.push(w);
      total += w;
      bias += w * this.mf.statementBias[j]!;
      for (let q = 0; q < k; q++) {
        this.borrowedFactors[c * k + q]! += w * this.mf.statementFactors[j * k + q]!;
      }
    }
    const denom = total + this.options.textShrink;
    this.borrowedBias[c] = bias / denom;
    for (let q = 0; q < k; q++) this.borrowedFactors[c * k + q]! /= denom;
    this.borrowed[c] = near;
  }
}

function ratingStats(ratings: SparseRatings) {
  const s = ratings.statements;
  const m = ratings.members;
  const statementSum = new Float64Array(s);
  const statementCount = new Float64Array(s);
  const memberSum = new Float64Array(m);
  const memberCount = new Float64Array(m);
  const raters: number[][] = Array.from({ length: s }, () => []);
  for (let i = 0; i < ratings.value.length; i++) {
    const u = ratings.member[i]!;
    const c = ratings.statement[i]!;
    const a = ratings.value[i]!;
    statementSum[c]! += a;
    statementCount[c]! += 1;
    memberSum[u]! += a;
    memberCount[u]! += 1;
    raters[c]!.push(u);
  }
  return { statementSum, statementCount, memberSum, memberCount, raters };
}

/** (sum + 1) / (count + 2): a mean that starts at one half and follows the ratings. */
function smoothedMeans(sum: Float64Array, count: Float64Array): Float64Array {
  return sum.map((x, i) => (x + 1) / (count[i]! + 2));
}

function residuals(ratings: SparseRatings, mf: Factorisation): Float32Array {
  const s = ratings.statements;
  const out = new Float32Array(ratings.members * s).fill(Number.NaN);
  for (let i = 0; i < ratings.value.length; i++) {
    const u = ratings.member[i]!;
    const c = ratings.statement[i]!;
    out[u * s + c] = ratings.value[i]! - predictFactorisation(mf, u, c);
  }
  return out;
}

function deviations(ratings: SparseRatings, statementMean: Float64Array): Float32Array {
  const s = ratings.statements;
  const out = new Float32Array(ratings.members * s).fill(Number.NaN);
  for (let i = 0; i < ratings.value.length; i++) {
    const c = ratings.statement[i]!;
    out[ratings.member[i]! * s + c] = ratings.value[i]! - statementMean[c]!;
  }
  return out;
}

/**
 * Members most alike in their residuals, cosine shrunk by the number co-rated.
 *
 * One member at a time, over the raters of each statement they rated: memory is a few
 * rows of m, where a table of every pair (m * m) would take 1.6 GB at 10,000 members,
 * and the rows stay in cache. The sums run over statements in the same order for every
 * pair, so the result does not depend on the member order.
 */
function memberNeighbours(
  residual: Float32Array,
  raters: readonly number[][],
  m: number,
  s: number,
  options: ComponentOptions,
): Neighbours[] {
  const sq = new Float64Array(m);
  for (let u = 0; u < m; u++) {
    for (let c = 0; c < s; c++) {
      const x = residual[u * s + c]!;
      if (!Number.isNaN(x)) sq[u]! += x * x;
    }
  }
  const out: Neighbours[] = [];
  const dot = new Float64Array(m);
  const common = new Float64Array(m);
  const weight = new Float64Array(m);
  for (let u = 0; u < m; u++) {
    dot.fill(0);
    common.fill(0);
    for (let c = 0; c < s; c++) {
      const ru = residual[u * s + c]!;
      if (Number.isNaN(ru)) continue;
      for (const v of raters[c]!) {
        dot[v]! += ru * residual[v * s + c]!;
        common[v]! += 1;
      }
    }
    for (let v = 0; v < m; v++) {
      const n = common[v]!;
      const norm = Math.sqrt(sq[u]! * sq[v]!);
      weight[v] =
        v === u || n === 0 || norm === 0 ? 0 : (dot[v]! / norm) * (n / (n + options.knnShrink));
    }
    const top = strongest(weight, options.knnNeighbours);
    out.push({ index: top, weight: Float64Array.from(top, (v) => weight[v]!) });
  }
  return out;
}

/** Indices of the `count` entries largest in absolute value (non-zero only), strongest first. */
function strongest(values: Float64Array, count: number): Int32Array {
  const picked: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const x = Math.abs(values[i]!);
    if (x === 0) continue;
    if (picked.length === count && x <= Math.abs(values[picked[count - 1]!]!)) continue;
    // Insertion into a short sorted list: count is small, so this beats sorting all m.
    let at = picked.length === count ? count - 1 : picked.length;
    if (picked.length < count) picked.push(i);
    while (at > 0 && Math.abs(values[picked[at - 1]!]!) < x) {
      picked[at] = picked[at - 1]!;
      at--;
    }
    picked[at] = i;
  }
  return Int32Array.from(picked);
}

/** Per statement and learned group: the group's mean approval, shrunk to the statement's. */
function groupMeans(
  ratings: SparseRatings,
  clustering: Clustering,
  statementMean: Float64Array,
  shrink: number,
): Float64Array {
  const G = clustering.groups;
  const sum = new Float64Array(ratings.statements * G);
  const count = new Float64Array(ratings.statements * G);
  for (let i = 0; i < ratings.value.length; i++) {
    const g = clustering.assignment[ratings.member[i]!]!;
    if (g < 0) continue;
    const cell = ratings.statement[i]! * G + g;
    sum[cell]! += ratings.value[i]!;
    count[cell]! += 1;
  }
  return sum.map(
    (x, cell) => (x + shrink * statementMean[Math.floor(cell / G)]!) / (count[cell]! + shrink),
  );
}
