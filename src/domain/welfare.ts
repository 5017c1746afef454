import { DomainError } from './errors.js';
import type { WelfareName } from './welfare-name.js';

/**
 * Social welfare functions: each turns one candidate's vector of approvals in [0,1]
 * (one entry per member) into one number, higher = better for the group.
 *
 * Every function takes `readonly number[]` with the members that were not predicted
 * already left out: a missing prediction is not evidence of disapproval, so the caller
 * drops the nulls rather than guessing a value for them.
 */

/** The welfare functions that score a single approval vector; Schulze ranks instead. */
export type ScalarWelfareName = Exclude<WelfareName, 'schulze'>;

/**
 * Approvals below this count as this much under Nash (and isoelastic with alpha >= 1):
 * log(0) = -Infinity would make every candidate with one zero tie at -Infinity, losing
 * all information about the rest of the group.
 */
export const NASH_FLOOR = 1e-3;

/**
 * Means of the same values summed in a different order can differ in the last bit;
 * differences below this are treated as ties so that the seeded tie-break, not float
 * noise, decides between equal candidates.
 */
export const WELFARE_TOLERANCE = 1e-9;

export function isScalarWelfare(name: WelfareName): name is ScalarWelfareName {
  return name !== 'schulze';
}

function assertApprovals(approvals: readonly number[]): void {
  if (approvals.length === 0) {
    throw new DomainError(
      'invalid_input',
      'Welfare needs at least one approval; leave out candidates nobody was predicted for.',
    );
  }
  for (const u of approvals) {
    if (!Number.isFinite(u) || u < 0 || u > 1) {
      throw new DomainError('invalid_input', `Approvals must lie in [0, 1]; got ${u}.`);
    }
  }
}

function mean(values: readonly number[]): number {
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** Mean approval: the total good done, indifferent to who receives it. */
export function utilitarian(approvals: readonly number[]): number {
  assertApprovals(approvals);
  return mean(approvals);
}

/**
 * Lowest approval (Rawls): the candidate is only as good as it is for the member it
 * serves worst. Ties are broken by the mean in `compareWelfare`, not here.
 */
export function egalitarian(approvals: readonly number[]): number {
  assertApprovals(approvals);
  return Math.min(...approvals);
}

/** Mean of log(max(u, NASH_FLOOR)): rewards total approval but punishes near-zeros hard. */
export function nash(approvals: readonly number[]): number {
  assertApprovals(approvals);
  let sum = 0;
  for (const u of approvals) sum += Math.log(Math.max(u, NASH_FLOOR));
  return sum / approvals.length;
}

function assertAlpha(alpha: number): void {
  if (Number.isNaN(alpha) || alpha < 0) {
    throw new DomainError(
      'invalid_input',
      `The inequality aversion alpha must be >= 0 (Infinity allowed); got ${alpha}.`,
    );
  }
}

/**
 * Isoelastic welfare W_a(u) = mean(u_i^(1-a) / (1-a)), with a >= 0 the aversion to
 * inequality: a = 0 is the mean, a = 1 is Nash (mean log, its limit), a = Infinity is
 * the minimum. For a > 1 the approvals are floored at NASH_FLOOR, as for Nash, because
 * 0^(1-a) is infinite. Values are only comparable for the same alpha, and for a large
 * alpha they leave the range of a double (W really is below -1e308); compare with
 * `isoelasticEquivalent`, which stays on the approval scale for every alpha.
 */
export function isoelastic(approvals: readonly number[], alpha: number): number {
  assertAlpha(alpha);
  if (alpha === 1) return nash(approvals);
  if (alpha === Number.POSITIVE_INFINITY) return egalitarian(approvals);
  const e = 1 - alpha;
  if (alpha < 1) {
    // Every u^e lies in [0, 1] here, so the sum cannot overflow; going through the
    // equivalent instead would underflow it to 0 near a = 1 when an approval is 0
    // (mean^(1/e) with 1/e huge), scoring [0, 0.5, 1] like [0, 0, 0].
    assertApprovals(approvals);
    let sum = 0;
    for (const u of approvals) sum += u ** e;
    return sum / approvals.length / e;
  }
  return isoelasticEquivalent(approvals, alpha) ** e / e;
}

/**
 * The approval which, given to every member alike, yields the same isoelastic welfare
 * (the "equally distributed equivalent"). It lies between the minimum and the mean, so
 * it reads on the same scale as the approvals whatever alpha is. Computed relative to
 * the minimum (a > 1) or the maximum (a < 1), so every power lies in (0, 1] and nothing
 * overflows however large alpha is. Just below a = 1 with an approval of 0 it really is
 * below the smallest double (mean^(1/(1-a))) and reads 0; `isoelastic` still ranks there.
 */
export function isoelasticEquivalent(approvals: readonly number[], alpha: number): number {
  assertAlpha(alpha);
  if (alpha === 1) return Math.exp(nash(approvals));
  if (alpha === Number.POSITIVE_INFINITY) return egalitarian(approvals);
  assertApprovals(approvals);
  const e = 1 - alpha;
  const values = approvals.map((u) => (alpha > 1 ? Math.max(u, NASH_FLOOR) : u));
  const anchor = alpha > 1 ? Math.min(...values) : Math.max(...values);
  if (anchor === 0) return 0; // a < 1 and every approval is 0
  // mean((v/anchor)^e)^(1/e) in the form exp(log1p(mean(expm1(e ln(v/anchor)))) / e):
  // the plain powers all round to 1 when alpha is within ~1e-12 of 1, and their mean's
  // 1/e-th power then blew the rounding up (1 + 2^-52 gave 0.68 for [0.25, 1], above its
  // mean of 0.625; the geometric mean 0.5 is right).
  let sum = 0;
  for (const v of values) sum += Math.expm1(e * Math.log(v / anchor));
  return anchor * Math.exp(Math.log1p(sum / values.length) / e);
}

/**
 * Bridging welfare: the mean over opinion groups of log(the group's mean approval), a
 * Nash welfare over groups rather than members. A statement one group rejects scores low
 * however much another group loves it, and a large group cannot outvote a small one.
 * `groups[i]` is the group of the member behind `approvals[i]`, -1 for none. Once two
 * groups are known, the members in none (newcomers, members with too few ratings to
 * place, members of groups too small to count) together count as one more group: their
 * view is unknown, not absent, so a statement they reject cannot win by pleasing the
 * placed few. That group weighs in proportion to its size up to the average learned
 * group's, so a lone newcomer is one voice rather than a group's. With fewer than two
 * groups the whole room is one group (the log of the mean approval, which ranks as
 * utilitarian does). The groups come from the ratings (the learned model's opinion
 * groups), never from labels.
 */
export function bridging(approvals: readonly number[], groups?: readonly number[]): number {
  assertApprovals(approvals);
  if (groups !== undefined && groups.length !== approvals.length) {
    throw new DomainError(
      'invalid_input',
      `Bridging needs one group per approval; got ${groups.length} groups for ${approvals.length} approvals.`,
    );
  }
  const sums = new Map<number, { sum: number; count: number }>();
  if (groups !== undefined) {
    for (const [i, g] of groups.entries()) {
      // Every member in no group shares the key -1: one more group, counted below.
      const key = g < 0 ? -1 : g;
      const cell = sums.get(key) ?? { sum: 0, count: 0 };
      cell.sum += approvals[i] as number;
      cell.count += 1;
      sums.set(key, cell);
    }
  }
  const unplaced = sums.get(-1);
  const known = sums.size - (unplaced === undefined ? 0 : 1);
  if (known < 2) return Math.log(Math.max(mean(approvals), NASH_FLOOR));
  // The unplaced count as a whole group once they are as many as a learned group holds
  // on average here, and in proportion below that: one newcomer beside two groups of
  // twenty is one voice, not a third of the say.
  const typical = (approvals.length - (unplaced?.count ?? 0)) / known;
  let total = 0;
  let weights = 0;
  for (const [key, { sum, count }] of sums) {
    const weight = key === -1 ? Math.min(1, count / typical) : 1;
    total += weight * Math.log(Math.max(sum / count, NASH_FLOOR));
    weights += weight;
  }
  return total / weights;
}

/** How many opinion groups `bridging` bridges for these groups (0: the room is one). */
export function bridgedGroupCount(groups: readonly number[] | undefined): number {
  const present = new Set((groups ?? []).filter((g) => g >= 0));
  return present.size < 2 ? 0 : present.size;
}

/**
 * The welfare of one approval vector under a named function. `groups` (aligned with
 * `approvals`) is read by bridging only.
 */
export function welfareScore(
  name: ScalarWelfareName,
  approvals: readonly number[],
  groups?: readonly number[],
): number {
  switch (name) {
    case 'utilitarian':
      return utilitarian(approvals);
    case 'egalitarian':
      return egalitarian(approvals);
    case 'nash':
      return nash(approvals);
    case 'bridging':
      return bridging(approvals, groups);
  }
}

/**
 * What candidates are compared on, most significant first. The second key only matters
 * when the first ties: among candidates whose worst-served member fares equally, the one
 * better for everyone else is better (egalitarian -> mean); among equal means, the one
 * that leaves nobody further behind (utilitarian -> min); Nash and bridging ties fall back
 * to the mean.
 */
export function welfareKey(
  name: ScalarWelfareName,
  approvals: readonly number[],
  groups?: readonly number[],
): number[] {
  switch (name) {
    case 'utilitarian':
      return [utilitarian(approvals), egalitarian(approvals)];
    case 'egalitarian':
      return [egalitarian(approvals), utilitarian(approvals)];
    case 'nash':
      return [nash(approvals), utilitarian(approvals)];
    case 'bridging':
      return [bridging(approvals, groups), utilitarian(approvals)];
  }
}

/** Lexicographic comparison of two `welfareKey`s, best first, within WELFARE_TOLERANCE. */
export function compareWelfareKeys(a: readonly number[], b: readonly number[]): number {
  const length = Math.max(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a[i] ?? Number.NEGATIVE_INFINITY;
    const y = b[i] ?? Number.NEGATIVE_INFINITY;
    if (Math.abs(x - y) > WELFARE_TOLERANCE) return x > y ? -1 : 1;
  }
  return 0;
}

/**
 * Comparator for two candidates' approval vectors that sorts best first: negative when
 * `a` is better, positive when `b` is, 0 when they tie on every key of `welfareKey`.
 */
export function compareWelfare(
  name: ScalarWelfareName,
  a: readonly number[],
  b: readonly number[],
  groupsA?: readonly number[],
  groupsB?: readonly number[],
): number {
  return compareWelfareKeys(welfareKey(name, a, groupsA), welfareKey(name, b, groupsB));
}
