import { createRng, gaussian } from '../../domain/random.js';

/**
 * Matrix factorisation a ~ mu + b_u + b_s + f_u . f_s over a sparse ratings matrix, with
 * the objective Community Notes minimises: mean squared error over the ratings
 * + lambdaBias * (mu^2 + mean b_u^2 + mean b_s^2)
 * + lambdaFactor * (mean |f_u|^2 + mean |f_s|^2),
 * the means over members and statements that have ratings. Regularising by *means*
 * rather than sums keeps the penalty's weight independent of the matrix's size.
 *
 * Fitted by exact block coordinate descent: each member's (b_u, f_u) and each
 * statement's (b_s, f_s) is a small ridge regression given the rest, so every step
 * lowers the loss and no learning rate needs tuning.
 */

export interface SparseRatings {
  members: number;
  statements: number;
  member: Int32Array;
  statement: Int32Array;
  value: Float64Array;
}

export interface FactorisationOptions {
  factors: number;
  lambdaBias: number;
  lambdaFactor: number;
  /** Seeds of the random starts; the fit with the lowest loss is kept. */
  seeds: readonly number[];
  /** Stop when the loss changes by less than this fraction in one sweep. */
  tolerance: number;
  maxSweeps: number;
  /** Standard deviation of the initial factors. */
  initScale: number;
}

export const COMMUNITY_NOTES_OPTIONS: FactorisationOptions = {
  factors: 1,
  lambdaBias: 0.15,
  lambdaFactor: 0.03,
  seeds: [0, 1, 2, 3, 4],
  tolerance: 1e-9,
  maxSweeps: 20_000,
  initScale: 0.1,
};

export interface Factorisation {
  factors: number;
  mu: number;
  memberBias: Float64Array;
  statementBias: Float64Array;
  /** Row-major, `factors` per member; zero for members without ratings. */
  memberFactors: Float64Array;
  statementFactors: Float64Array;
  loss: number;
  sweeps: number;
}

/** The prediction, unclipped (unseen members and statements have zero parameters). */
export function predictFactorisation(model: Factorisation, member: number, statement: number) {
  let dot = 0;
  const k = model.factors;
  for (let f = 0; f < k; f++) {
    dot +=
      (model.memberFactors[member * k + f] ?? 0) * (model.statementFactors[statement * k + f] ?? 0);
  }
  return model.mu + (model.memberBias[member] ?? 0) + (model.statementBias[statement] ?? 0) + dot;
}

/** One side's ratings grouped by row (CSR), in rating order within a row. */
interface SideIndex {
  start: Int32Array;
  /** The other side's index of each grouped rating. */
  other: Int32Array;
  value: Float64Array;
  /** Rows with at least one rating. */
  rated: number;
}

interface Index {
  member: SideIndex;
  statement: SideIndex;
}

function sideIndex(keys: Int32Array, others: Int32Array, values: Float64Array, size: number) {
  const start = new Int32Array(size + 1);
  for (const key of keys) start[key + 1]! += 1;
  for (let i = 0; i < size; i++) start[i + 1]! += start[i]!;
  const fill = start.slice(0, size);
  const other = new Int32Array(keys.length);
  const value = new Float64Array(keys.length);
  keys.forEach((key, idx) => {
    const p = fill[key]!;
    other[p] = others[idx]!;
    value[p] = values[idx]!;
    fill[key] = p + 1;
  });
  let rated = 0;
  for (let i = 0; i < size; i++) if (start[i + 1]! > start[i]!) rated++;
  return { start, other, value, rated };
}

function buildIndex(r: SparseRatings): Index {
  return {
    member: sideIndex(r.member, r.statement, r.value, r.members),
    statement: sideIndex(r.statement, r.member, r.value, r.statements),
  };
}

export function fitFactorisation(
  ratings: SparseRatings,
  options: FactorisationOptions = COMMUNITY_NOTES_OPTIONS,
): Factorisation {
  const index = buildIndex(ratings);
  let best: Factorisation | null = null;
  for (const seed of options.seeds) {
    const fit = fitOnce(ratings, index, options, seed);
    if (best === null || fit.loss < best.loss) best = fit;
  }
  if (best === null) throw new RangeError('fitFactorisation needs at least one seed');
  return best;
}

function fitOnce(
  r: SparseRatings,
  index: Index,
  options: FactorisationOptions,
  seed: number,
): Factorisation {
  const k = options.factors;
  const n = r.value.length;
  const rng = createRng(seed);
  const model: Factorisation = {
    factors: k,
    mu: 0,
    memberBias: new Float64Array(r.members),
    statementBias: new Float64Array(r.statements),
    memberFactors: new Float64Array(r.members * k),
    statementFactors: new Float64Array(r.statements * k),
    loss: Number.POSITIVE_INFINITY,
    sweeps: 0,
  };
  if (n === 0) {
    model.loss = 0;
    return model;
  }
  const init = (factors: Float64Array, start: Int32Array, size: number) => {
    for (let i = 0; i < size; i++) {
      if ((start[i + 1] as number) === (start[i] as number)) continue;
      for (let f = 0; f < k; f++) factors[i * k + f] = gaussian(rng) * options.initScale;
    }
  };
  init(model.memberFactors, index.member.start, r.members);
  init(model.statementFactors, index.statement.start, r.statements);

  // The per-row problems are scaled by n (the loss is a mean over n ratings), so the
  // mean-based penalties become ridge terms n * lambda / (rows that have ratings).
  const memberRidge = [
    (n * options.lambdaBias) / index.member.rated,
    (n * options.lambdaFactor) / index.member.rated,
  ] as const;
  const statementRidge = [
    (n * options.lambdaBias) / index.statement.rated,
    (n * options.lambdaFactor) / index.statement.rated,
  ] as const;
  const solver = new RidgeSolver(k + 1);

  let previous = loss(r, model, options, index);
  for (let sweep = 1; sweep <= options.maxSweeps; sweep++) {
    updateSide(model, index.member, r.members, true, memberRidge, solver);
    updateSide(model, index.statement, r.statements, false, statementRidge, solver);
    model.mu = residualSum(r, model) / n / (1 + options.lambdaBias);
    const current = loss(r, model, options, index);
    model.sweeps = sweep;
    model.loss = current;
    if (Math.abs(previous - current) <= options.tolerance * Math.abs(previous)) break;
    previous = current;
  }
  return model;
}

/** Solves (X'X + diag(ridge)) w = X'y for one row's (bias, factors...). */
class RidgeSolver {
  readonly a: Float64Array;
  readonly b: Float64Array;
  /** The current observation's features, reused to keep the inner loop allocation-free. */
  private readonly x: Float64Array;
  constructor(readonly size: number) {
    this.a = new Float64Array(size * size);
    this.b = new Float64Array(size);
    this.x = new Float64Array(size);
  }
  reset(ridgeBias: number, ridgeFactor: number) {
    this.a.fill(0);
    this.b.fill(0);
    this.a[0] = ridgeBias;
    for (let i = 1; i < this.size; i++) this.a[i * this.size + i] = ridgeFactor;
  }
  /** Adds one observation: features x = (1, other's factors), target y. */
  add(other: Float64Array, offset: number, y: number) {
    const s = this.size;
    const a = this.a;
    const b = this.b;
    const x = this.x;
    x[0] = 1;
    for (let i = 1; i < s; i++) x[i] = other[offset + i - 1]!;
    for (let i = 0; i < s; i++) {
      const xi = x[i]!;
      b[i]! += xi * y;
      const row = i * s;
      for (let j = 0; j <= i; j++) a[row + j]! += xi * x[j]!;
    }
  }
  /** Cholesky on the lower triangle (the system is symmetric positive definite). */
  solve(out: Float64Array) {
    const s = this.size;
    const a = this.a;
    for (let j = 0; j < s; j++) {
      let d = a[j * s + j] as number;
      for (let m = 0; m < j; m++) d -= (a[j * s + m] as number) ** 2;
      const root = Math.sqrt(Math.max(d, 1e-300));
      a[j * s + j] = root;
      for (let i = j + 1; i < s; i++) {
        let v = a[i * s + j] as number;
        for (let m = 0; m < j; m++) v -= (a[i * s + m] as number) * (a[j * s + m] as number);
        a[i * s + j] = v / root;
      }
    }
    for (let i = 0; i < s; i++) {
      let v = this.b[i] as number;
      for (let m = 0; m < i; m++) v -= (a[i * s + m] as number) * (out[m] as number);
      out[i] = v / (a[i * s + i] as number);
    }
    for (let i = s - 1; i >= 0; i--) {
      let v = out[i] as number;
      for (let m = i + 1; m < s; m++) v -= (a[m * s + i] as number) * (out[m] as number);
      out[i] = v / (a[i * s + i] as number);
    }
  }
}

function updateSide(
  model: Factorisation,
  side: SideIndex,
  size: number,
  isMember: boolean,
  ridge: readonly [number, number],
  solver: RidgeSolver,
) {
  const k = model.factors;
  const ownBias = isMember ? model.memberBias : model.statementBias;
  const otherBias = isMember ? model.statementBias : model.memberBias;
  const ownFactors = isMember ? model.memberFactors : model.statementFactors;
  const otherFactors = isMember ? model.statementFactors : model.memberFactors;
  const { start, other, value } = side;
  const mu = model.mu;
  const solution = new Float64Array(k + 1);
  for (let row = 0; row < size; row++) {
    const from = start[row]!;
    const to = start[row + 1]!;
    if (from === to) continue;
    solver.reset(ridge[0], ridge[1]);
    if (k === 1) accumulateOne(solver, other, value, from, to, otherFactors, otherBias, mu);
    else if (k === 2) accumulateTwo(solver, other, value, from, to, otherFactors, otherBias, mu);
    else {
      for (let p = from; p < to; p++) {
        const o = other[p]!;
        solver.add(otherFactors, o * k, value[p]! - mu - otherBias[o]!);
      }
    }
    solver.solve(solution);
    ownBias[row] = solution[0]!;
    for (let f = 0; f < k; f++) ownFactors[row * k + f] = solution[f + 1]!;
  }
}

/*
 * RidgeSolver.add unrolled for one and two factors, the sizes the model and the
 * Community Notes baseline use: the same products added to the same cells in the same
 * order (so the same results), kept in locals instead of the solver's arrays.
 */

function accumulateOne(
  solver: RidgeSolver,
  other: Int32Array,
  value: Float64Array,
  from: number,
  to: number,
  otherFactors: Float64Array,
  otherBias: Float64Array,
  mu: number,
) {
  const a = solver.a;
  const b = solver.b;
  let a00 = a[0]!;
  let a10 = a[2]!;
  let a11 = a[3]!;
  let b0 = b[0]!;
  let b1 = b[1]!;
  for (let p = from; p < to; p++) {
    const o = other[p]!;
    const y = value[p]! - mu - otherBias[o]!;
    const x1 = otherFactors[o]!;
    b0 += y;
    a00 += 1;
    b1 += x1 * y;
    a10 += x1;
    a11 += x1 * x1;
  }
  a[0] = a00;
  a[2] = a10;
  a[3] = a11;
  b[0] = b0;
  b[1] = b1;
}

function accumulateTwo(
  solver: RidgeSolver,
  other: Int32Array,
  value: Float64Array,
  from: number,
  to: number,
  otherFactors: Float64Array,
  otherBias: Float64Array,
  mu: number,
) {
  const a = solver.a;
  const b = solver.b;
  let a00 = a[0]!;
  let a10 = a[3]!;
  let a11 = a[4]!;
  let a20 = a[6]!;
  let a21 = a[7]!;
  let a22 = a[8]!;
  let b0 = b[0]!;
  let b1 = b[1]!;
  let b2 = b[2]!;
  for (let p = from; p < to; p++) {
    const o = other[p]!;
    const y = value[p]! - mu - otherBias[o]!;
    const x1 = otherFactors[2 * o]!;
    const x2 = otherFactors[2 * o + 1]!;
    b0 += y;
    a00 += 1;
    b1 += x1 * y;
    a10 += x1;
    a11 += x1 * x1;
    b2 += x2 * y;
    a20 += x2;
    a21 += x2 * x1;
    a22 += x2 * x2;
  }
  a[0] = a00;
  a[3] = a10;
  a[4] = a11;
  a[6] = a20;
  a[7] = a21;
  a[8] = a22;
  b[0] = b0;
  b[1] = b1;
  b[2] = b2;
}

/** Sum over ratings of (rating - prediction + mu): what the optimal mu is proportional to. */
function residualSum(r: SparseRatings, model: Factorisation): number {
  let residual = 0;
  for (let i = 0; i < r.value.length; i++) {
    residual += r.value[i]! - (predictFast(model, r.member[i]!, r.statement[i]!) - model.mu);
  }
  return residual;
}

/** predictFactorisation for indices known to be in range (the hot loops' version). */
function predictFast(model: Factorisation, member: number, statement: number): number {
  const k = model.factors;
  const fu = model.memberFactors;
  const fs = model.statementFactors;
  let dot: number;
  // Unrolled for the common sizes; 0 + x is x, so the sums are the generic loop's.
  if (k === 1) dot = fu[member]! * fs[statement]!;
  else if (k === 2) {
    dot = fu[2 * member]! * fs[2 * statement]! + fu[2 * member + 1]! * fs[2 * statement + 1]!;
  } else {
    dot = 0;
    for (let f = 0; f < k; f++) dot += fu[member * k + f]! * fs[statement * k + f]!;
  }
  return model.mu + model.memberBias[member]! + model.statementBias[statement]! + dot;
}

function sumSquares(values: Float64Array): number {
  let total = 0;
  for (const v of values) total += v * v;
  return total;
}

function loss(r: SparseRatings, model: Factorisation, options: FactorisationOptions, index: Index) {
  const n = r.value.length;
  let sse = 0;
  for (let i = 0; i < n; i++) {
    const e = r.value[i]! - predictFast(model, r.member[i]!, r.statement[i]!);
    sse += e * e;
  }
  const bu = sumSquares(model.memberBias);
  const bs = sumSquares(model.statementBias);
  const fu = sumSquares(model.memberFactors);
  const fs = sumSquares(model.statementFactors);
  return (
    sse / n +
    options.lambdaBias * (model.mu ** 2 + bu / index.member.rated + bs / index.statement.rated) +
    options.lambdaFactor * (fu / index.member.rated + fs / index.statement.rated)
  );
}
