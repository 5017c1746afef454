import type { SparseVector } from '../text/tfidf.js';
import {
  type Factorisation,
  fitFactorisation,
  predictFactorisation,
  type SparseRatings,
} from './factorisation.js';
import { cosine, textVectors } from './text-similarity.js';

/**
 * The learned reward model on integer indices (members 0..m-1, statements 0..s-1); see
 * model.ts for the id-based API and the reasons behind each part.
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
  /** Weight of the neighbours' residuals added to the factorisation. */
  knnWeight: number;
  knnNeighbours: number;
  /** Co-rated statements at which a neighbour's similarity counts half. */
  knnShrink: number;
  /** Pseudo-weight of "no similar statement" when a new statement borrows parameters. */
  textShrink: number;
  /** How far a new statement's factor leans towards its author's. */
  authorWeight: number;
  /** Weight of the member's own residuals on similar statements, for new statements. */
  personalTextWeight: number;
  /** Weight of the similarity of a new statement to the member's own words. */
  ownTextWeight: number;
  /** Predicted approval of a member for a statement they wrote. */
  authorApproval: number;
  /** Weight of the comment mean against the population mean of predictions in W(c). */
  popularityCalibration: number;
}

export const DEFAULT_CORE_OPTIONS: CoreOptions = {
  factors: 2,
  lambdaBias: 0.05,
  lambdaFactor: 0.05,
  seed: 0,
  knnWeight: 0.5,
  knnNeighbours: 30,
  knnShrink: 10,
  textShrink: 0.5,
  authorWeight: 1,
  personalTextWeight: 1,
  ownTextWeight: 0,
  authorApproval: 1,
  popularityCalibration: 0,
};

export class LearnedCore {
  private readonly mf: Factorisation;
  private readonly k: number;
  /** Neighbours per member: indices and similarities, strongest first. */
  private readonly neighbours: { index: Int32Array; weight: Float64Array }[];
  /** Dense residual (rating - factorisation) per member x statement; NaN where unrated. */
  private readonly residual: Float32Array;
  private readonly rated: Uint8Array;
  private readonly statementCount: number;
  private readonly coldBias: Float64Array;
  private readonly coldFactors: Float64Array;
  private readonly statementVectors: SparseVector[];
  private readonly memberVectors: SparseVector[];
  /** Per cold statement: rated statements with their text similarity. */
  private readonly coldNeighbours: Map<number, { index: number[]; sim: number[] }>;
  private readonly memberRated: number[][];
  private readonly calibration: Float64Array;

  constructor(
    private readonly input: CoreInput,
    private readonly options: CoreOptions = DEFAULT_CORE_OPTIONS,
  ) {
    const { ratings } = input;
    const m = ratings.members;
    const s = ratings.statements;
    this.statementCount = s;
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
    this.memberRated = Array.from({ length: m }, () => []);
    const byStatement: number[][] = Array.from({ length: s }, () => []);
    for (let i = 0; i < ratings.value.length; i++) {
      const u = ratings.member[i] as number;
      const c = ratings.statement[i] as number;
      this.residual[u * s + c] = (ratings.value[i] as number) - predictFactorisation(this.mf, u, c);
      this.rated[c] = 1;
      this.memberRated[u]?.push(c);
      byStatement[c]?.push(u);
    }
    this.neighbours = this.findNeighbours(m, s, byStatement);

    const texts = [...input.statementTexts, ...input.memberTexts];
    const vectors = textVectors(texts);
    this.statementVectors = vectors.slice(0, s);
    this.memberVectors = vectors.slice(s);
    this.coldBias = new Float64Array(s);
    this.coldFactors = new Float64Array(s * this.k);
    this.coldNeighbours = new Map();
    for (let c = 0; c < s; c++) if (this.rated[c] === 0) this.fitCold(c);

    this.calibration = new Float64Array(s);
  }

  private findNeighbours(m: number, s: number, byStatement: number[][]) {
    // Sparse co-rating accumulation: cost is the sum over statements of raters squared.
    const dot = new Float64Array(m * m);
    const common = new Float64Array(m * m);
    const r = this.residual;
    for (let c = 0; c < s; c++) {
      const raters = byStatement[c] as number[];
      for (let x = 0; x < raters.length; x++) {
        const u = raters[x] as number;
        const ru = r[u * s + c] as number;
        for (let y = x + 1; y < raters.length; y++) {
          const v = raters[y] as number;
          const p = ru * (r[v * s + c] as number);
          dot[u * m + v] += p;
          common[u * m + v]++;
        }
      }
    }
    const sq = new Float64Array(m);
    for (let u = 0; u < m; u++) {
      for (let c = 0; c < s; c++) {
        const x = r[u * s + c] as number;
        if (!Number.isNaN(x)) sq[u] += x * x;
      }
    }
    const out: { index: Int32Array; weight: Float64Array }[] = [];
    const K = this.options.knnNeighbours;
    for (let u = 0; u < m; u++) {
      const cand: { v: number; w: number }[] = [];
      for (let v = 0; v < m; v++) {
        if (v === u) continue;
        const a = Math.min(u, v);
        const b = Math.max(u, v);
        const n = common[a * m + b] as number;
        if (n === 0) continue;
        const denom = Math.sqrt((sq[u] as number) * (sq[v] as number));
        if (denom === 0) continue;
        const w = ((dot[a * m + b] as number) / denom) * (n / (n + this.options.knnShrink));
        cand.push({ v, w });
      }
      cand.sort((p, q) => Math.abs(q.w) - Math.abs(p.w));
      const top = cand.slice(0, K);
      out.push({
        index: Int32Array.from(top, (t) => t.v),
        weight: Float64Array.from(top, (t) => t.w),
      });
    }
    return out;
  }

  private fitCold(c: number) {
    const k = this.k;
    const index: number[] = [];
    const sim: number[] = [];
    const vc = this.statementVectors[c] as SparseVector;
    let total = 0;
    let bias = 0;
    const f = new Float64Array(k);
    for (let j = 0; j < this.statementCount; j++) {
      if (this.rated[j] === 0) continue;
      const sv = cosine(vc, this.statementVectors[j] as SparseVector);
      if (sv <= 0) continue;
      const w = sv * sv;
      index.push(j);
      sim.push(w);
      total += w;
      bias += w * (this.mf.statementBias[j] as number);
      for (let q = 0; q < k; q++) f[q] += w * (this.mf.statementFactors[j * k + q] as number);
    }
    const denom = total + this.options.textShrink;
    this.coldBias[c] = bias / denom;
    const author = this.input.statementAuthors[c] ?? -1;
    for (let q = 0; q < k; q++) {
      const fromAuthor = author >= 0 ? (this.mf.memberFactors[author * k + q] as number) : 0;
      this.coldFactors[c * k + q] = (f[q] as number) / denom + this.options.authorWeight * fromAuthor;
    }
    this.coldNeighbours.set(c, { index, sim });
  }

  isRated(statement: number): boolean {
    return this.rated[statement] === 1;
  }

  /** Predicted approval in [0, 1]. */
  predict(member: number, statement: number): number {
    const s = this.statementCount;
    if (this.input.statementAuthors[statement] === member && this.options.authorApproval > 0) {
      return this.options.authorApproval;
    }
    let p: number;
    if (this.rated[statement] === 1) {
      p = predictFactorisation(this.mf, member, statement);
      const nb = this.neighbours[member];
      if (nb !== undefined && this.options.knnWeight > 0) {
        let num = 0;
        let den = 0;
        for (let i = 0; i < nb.index.length; i++) {
          const r = this.residual[(nb.index[i] as number) * s + statement] as number;
          if (Number.isNaN(r)) continue;
          const w = nb.weight[i] as number;
          num += w * r;
          den += Math.abs(w);
        }
        if (den > 0) p += (this.options.knnWeight * num) / (den + 1);
      }
    } else {
      const k = this.k;
      let dot = 0;
      for (let q = 0; q < k; q++) {
        dot += (this.mf.memberFactors[member * k + q] ?? 0) * (this.coldFactors[statement * k + q] as number);
      }
      p = this.mf.mu + (this.mf.memberBias[member] ?? 0) + (this.coldBias[statement] as number) + dot;
      const cold = this.coldNeighbours.get(statement);
      if (cold !== undefined && this.options.personalTextWeight > 0) {
        let num = 0;
        let den = 0;
        cold.index.forEach((j, i) => {
          const r = this.residual[member * s + j] as number;
          if (Number.isNaN(r)) return;
          num += (cold.sim[i] as number) * r;
          den += cold.sim[i] as number;
        });
        p += (this.options.personalTextWeight * num) / (den + this.options.textShrink);
      }
      if (this.options.ownTextWeight > 0) {
        const own = this.memberVectors[member];
        if (own !== undefined && own.size > 0) {
          p += this.options.ownTextWeight * cosine(own, this.statementVectors[statement] as SparseVector);
        }
      }
    }
    return Math.min(1, Math.max(0, p));
  }

  statementBias(statement: number): number {
    return this.rated[statement] === 1
      ? (this.mf.statementBias[statement] as number)
      : (this.coldBias[statement] as number);
  }
}
