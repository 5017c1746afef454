import { createRng, type Rng } from '../../domain/random.js';
import { bridging } from '../../domain/welfare.js';
import { cvRidgeFit, dot } from './blend.js';
import { COLD_FEATURES, type ComponentOptions, Components, WARM_FEATURES } from './components.js';
import type { SparseRatings } from './factorisation.js';
import { type TextInput, TextView } from './text-similarity.js';

/**
 * The learned reward model on integer indices (members 0..m-1, statements 0..s-1); see
 * model.ts for the id-based API.
 *
 * Two linear blends of simple predictors (components.ts): one for statements with
 * ratings (factorisation, statement mean, neighbours' residuals, member mean, the
 * member's learned opinion group's mean), one for statements nobody has rated (member
 * bias, a text-predicted statement bias, factors borrowed from textually similar
 * statements and from the author, the member's own residuals on similar statements).
 *
 * The blend weights are fitted by cross-fitting (stacking): the ratings are split into
 * folds, the predictors are fitted without each fold and predict it, and every rating
 * thus becomes one honest example for the blend. Each fold also hides some statements
 * whole, which gives the cold-start blend its examples. Ridge strengths are chosen by
 * cross-validation on those examples, so a small conversation keeps close to the prior
 * weights and a large one follows its data. The final predictors are fitted on every
 * rating. Opinion groups are learned from the votes (clusters.ts) and give the bridging
 * score, `consensus`.
 */

export interface CoreInput extends TextInput {
  ratings: SparseRatings;
}

export interface CoreOptions extends ComponentOptions {
  /** Candidate ridge strengths of the blends (chosen by cross-validation). */
  ridges: readonly number[];
  /** Cross-fitting folds: each fits the predictors on the rest and predicts its ratings. */
  folds: number;
  /** Share of rated statements hidden whole (in one fold each) to fit the cold-start blend. */
  coldShare: number;
  /** Learned groups smaller than this take no part in the consensus score (as in task C). */
  minGroupSize: number;
}

export const DEFAULT_CORE_OPTIONS: CoreOptions = {
  factors: 2,
  lambdaBias: 0.05,
  lambdaFactor: 0.05,
  seed: 0,
  knnNeighbours: 30,
  knnShrink: 10,
  textShrink: 0.5,
  groupShrink: 2,
  ridges: [0.1, 1, 10, 100, 1000, 10000],
  folds: 5,
  coldShare: 0.5,
  minGroupSize: 5,
};

/** The factorisation's prediction; what the blends start from before the data move them. */
const WARM_PRIOR = WARM_FEATURES.map((f) => (f === 'factorisation' ? 1 : 0));
const COLD_PRIOR = COLD_FEATURES.map((f) =>
  f === 'mu + member bias' ||
  f === 'borrowed statement bias' ||
  f === 'member factors . borrowed factors'
    ? 1
    : 0,
);

interface Examples {
  warm: { x: number[][]; y: number[] };
  cold: { x: number[][]; y: number[]; statement: number[] };
}

function subset(r: SparseRatings, keep: (i: number) => boolean): SparseRatings {
  const idx: number[] = [];
  for (let i = 0; i < r.value.length; i++) if (keep(i)) idx.push(i);
  return {
    members: r.members,
    statements: r.statements,
    member: Int32Array.from(idx, (i) => r.member[i]!),
    statement: Int32Array.from(idx, (i) => r.statement[i]!),
    value: Float64Array.from(idx, (i) => r.value[i]!),
  };
}

/** Out-of-fold features for every rating: the blends' training examples. */
function crossFit(ratings: SparseRatings, text: TextView, options: CoreOptions, rng: Rng) {
  const K = options.folds;
  const coldFold = Array.from({ length: ratings.statements }, () =>
    rng.next() < options.coldShare ? Math.floor(rng.next() * K) : -1,
  );
  const voteFold = Array.from({ length: ratings.value.length }, () => Math.floor(rng.next() * K));
  const examples: Examples = { warm: { x: [], y: [] }, cold: { x: [], y: [], statement: [] } };
  for (let f = 0; f < K; f++) {
    const heldOut = (i: number) => coldFold[ratings.statement[i]!] === f || voteFold[i] === f;
    const inner = new Components(
      subset(ratings, (i) => !heldOut(i)),
      text,
      options,
    );
    for (let i = 0; i < ratings.value.length; i++) {
      if (!heldOut(i)) continue;
      const u = ratings.member[i]!;
      const c = ratings.statement[i]!;
      const y = ratings.value[i]!;
      if (inner.rated[c] === 1) {
        examples.warm.x.push(inner.warmFeatures(u, c));
        examples.warm.y.push(y);
      } else {
        examples.cold.x.push(inner.coldFeatures(u, c));
        examples.cold.y.push(y);
        examples.cold.statement.push(c);
      }
    }
  }
  return examples;
}

export class LearnedCore {
  private readonly components: Components;
  readonly warmWeights: number[];
  readonly coldWeights: number[];
  /** Per member, the index of their learned group large enough to count, else -1. */
  private readonly groupIndex: Int32Array;
  /** Members with at least one rating: whose predictions the consensus score weighs. */
  private readonly members: number[] = [];
  /** groupOf for each of `members`. */
  private readonly memberGroups: number[];
  private readonly consensusCache = new Map<number, number>();
  /** Known ratings, member-major; NaN where the member did not rate the statement. */
  private readonly known: Float32Array;
  private readonly statements: number;

  constructor(input: CoreInput, options: CoreOptions = DEFAULT_CORE_OPTIONS) {
    const { ratings } = input;
    const text = new TextView(input);
    const rng = createRng(options.seed);
    const examples = crossFit(ratings, text, options, rng);
    this.warmWeights = cvRidgeFit(
      examples.warm.x,
      examples.warm.y,
      WARM_PRIOR,
      options.ridges,
      rng,
    );
    this.coldWeights = cvRidgeFit(
      examples.cold.x,
      examples.cold.y,
      COLD_PRIOR,
      options.ridges,
      rng,
      examples.cold.statement,
    );
    this.components = new Components(ratings, text, options);
    this.statements = ratings.statements;
    this.known = new Float32Array(ratings.members * ratings.statements).fill(Number.NaN);
    ratings.value.forEach((a, i) => {
      this.known[ratings.member[i]! * ratings.statements + ratings.statement[i]!] = a;
    });

    const hasRatings = new Uint8Array(ratings.members);
    for (const u of ratings.member) hasRatings[u] = 1;
    hasRatings.forEach((flag, u) => {
      if (flag === 1) this.members.push(u);
    });
    const { groups, assignment } = this.components.clustering;
    const sizes = new Int32Array(groups);
    for (const g of assignment) if (g >= 0) sizes[g]! += 1;
    // Renumbered over the groups that count, so group indices are 0..n-1.
    const kept = new Int32Array(groups).fill(-1);
    let next = 0;
    sizes.forEach((size, g) => {
      if (size >= options.minGroupSize) kept[g] = next++;
    });
    this.groupIndex = Int32Array.from(assignment, (g) => (g >= 0 ? kept[g]! : -1));
    this.memberGroups = this.members.map((u) => this.groupIndex[u]!);
  }

  isRated(statement: number): boolean {
    return this.components.rated[statement] === 1;
  }

  /**
   * Approval in [0, 1]: the member's own rating when they rated the statement (nothing
   * predicts it better), else the blend's prediction.
   */
  predict(member: number, statement: number): number {
    const rating = this.known[member * this.statements + statement];
    if (rating !== undefined && !Number.isNaN(rating)) return rating;
    const p = this.isRated(statement)
      ? dot(this.warmWeights, this.components.warmFeatures(member, statement))
      : dot(this.coldWeights, this.components.coldFeatures(member, statement));
    return Math.min(1, Math.max(0, p));
  }

  /**
   * The member's learned opinion group: an index among the groups of at least
   * `minGroupSize` members, or -1 (unclustered, or in a smaller group).
   */
  groupOf(member: number): number {
    return this.groupIndex[member] ?? -1;
  }

  /**
   * Bridging score: the domain's bridging welfare (the same function a round with
   * `--welfare bridging` selects by) of the predicted approvals of every member with a
   * rating, over the learned opinion groups, the members in none counting as one more:
   * a statement one group rejects scores low however much another loves it. Predictions rather than the group's own votes,
   * because a small group has few votes on a statement and the predictions borrow from
   * every rating. Comparable between statements of one fit.
   */
  consensus(statement: number): number {
    let cached = this.consensusCache.get(statement);
    if (cached === undefined) {
      const approvals = this.members.map((u) => this.predict(u, statement));
      cached = bridging(approvals, this.memberGroups);
      this.consensusCache.set(statement, cached);
    }
    return cached;
  }
}
