import type { ApprovalMatrix } from './candidate.js';
import { ApprovalMatrixSchema } from './candidate.js';
import { DomainError } from './errors.js';
import { createRng, shuffled } from './random.js';
import { type Ballot, type SchulzeResult, schulze } from './schulze.js';
import {
  bridgedGroupCount,
  compareWelfare,
  egalitarian,
  utilitarian,
  welfareScore,
} from './welfare.js';
import type { WelfareName } from './welfare-name.js';

/** A member and the approval a candidate is predicted to get from them. */
export interface ServedMember {
  participantId: string;
  approval: number;
}

export interface RankedCandidate {
  candidateId: string;
  /** 1 = the chosen candidate; every candidate has its own rank. */
  rank: number;
  /**
   * The chosen function's value. For utilitarian, egalitarian and Nash: that function of
   * the predicted approvals. For Schulze: how many other candidates it beats in Schulze's
   * relation. Null when nobody was predicted for the candidate.
   */
  welfare: number | null;
  mean: number | null;
  min: number | null;
  /** How many members have a prediction (non-null) for this candidate. */
  predicted: number;
  /** The predicted member with the lowest approval (first in matrix order on ties). */
  worstServed: ServedMember | null;
  /**
   * True when the function ranks this candidate equal to the one above it, so only the
   * seeded tie-break put it lower; explanations should say so rather than claim it lost.
   */
  tiedWithPrevious: boolean;
}

export interface Selection {
  welfare: WelfareName;
  /** Best first. */
  ranked: RankedCandidate[];
  /**
   * For Schulze: the pairwise and strongest-path matrices, over the candidates that have
   * at least one prediction (the others rank last without taking part). Null otherwise.
   */
  schulze: SchulzeResult | null;
  /** One sentence on how the winner was chosen, for the poll message. */
  description: string;
}

/**
 * The common case checked in plain loops: a 1,000-member round's 8,000 approvals went
 * through zod once per selection, twice a round (when the statement is chosen and when
 * it is shown). Anything it does not accept goes to the schema for the precise message.
 */
export function isWellFormedMatrix(matrix: ApprovalMatrix): boolean {
  const ids = (xs: unknown) =>
    Array.isArray(xs) && xs.every((x) => typeof x === 'string' && x.length > 0);
  if (!ids(matrix.participants) || !ids(matrix.candidates) || !Array.isArray(matrix.approvals)) {
    return false;
  }
  for (const row of matrix.approvals) {
    if (!Array.isArray(row)) return false;
    for (const u of row) {
      if (u !== null && !(typeof u === 'number' && u >= 0 && u <= 1)) return false;
    }
  }
  const { groups } = matrix;
  if (groups !== undefined) {
    if (!Array.isArray(groups)) return false;
    for (const g of groups) if (!Number.isInteger(g) || g < -1) return false;
  }
  return true;
}

/** Throws DomainError('invalid_input') naming the first problem with the matrix. */
export function validateApprovalMatrix(matrix: ApprovalMatrix): void {
  const parsed = isWellFormedMatrix(matrix)
    ? ({ success: true } as const)
    : ApprovalMatrixSchema.safeParse(matrix);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join('.') ?? '';
    throw new DomainError(
      'invalid_input',
      `The approval matrix is malformed at "${where}": ${issue?.message ?? 'invalid value'}.`,
    );
  }
  const { participants, candidates, approvals } = matrix;
  if (approvals.length !== candidates.length) {
    throw new DomainError(
      'invalid_input',
      `The approval matrix has ${approvals.length} rows but there are ${candidates.length} candidates; it needs one row per candidate.`,
    );
  }
  for (const [c, row] of approvals.entries()) {
    if (row.length !== participants.length) {
      throw new DomainError(
        'invalid_input',
        `Row ${c} of the approval matrix (candidate "${candidates[c]}") has ${row.length} entries but there are ${participants.length} participants.`,
      );
    }
  }
  if (matrix.groups !== undefined && matrix.groups.length !== participants.length) {
    throw new DomainError(
      'invalid_input',
      `The approval matrix has ${matrix.groups.length} opinion groups but there are ${participants.length} participants; it needs one per participant.`,
    );
  }
  assertUnique(candidates, 'candidate');
  assertUnique(participants, 'participant');
}

function assertUnique(ids: readonly string[], what: string): void {
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) {
      throw new DomainError('invalid_input', `The approval matrix lists ${what} "${id}" twice.`);
    }
    seen.add(id);
  }
}

/**
 * One member's predicted ranking as a Schulze ballot: equal approvals share a tier, and
 * candidates without a prediction are left out, which ranks them below every predicted
 * one (the member's view of them is unknown, not low, but it cannot be above what the
 * model did predict).
 */
export function ballotFromApprovals(
  candidates: readonly string[],
  approvals: readonly (number | null)[],
): Ballot {
  const byApproval = new Map<number, string[]>();
  for (const [c, id] of candidates.entries()) {
    const u = approvals[c];
    if (u === null || u === undefined) continue;
    const tier = byApproval.get(u);
    if (tier) tier.push(id);
    else byApproval.set(u, [id]);
  }
  return [...byApproval.entries()].sort((a, b) => b[0] - a[0]).map(([, tier]) => tier);
}

interface Stats {
  index: number;
  values: number[];
  /** The opinion group behind each of `values` (-1: none), for bridging. */
  groups: number[];
  mean: number | null;
  min: number | null;
  worstServed: ServedMember | null;
}

function statsOf(matrix: ApprovalMatrix, c: number): Stats {
  const row = matrix.approvals[c] as readonly (number | null)[];
  const values: number[] = [];
  const groups: number[] = [];
  let worstServed: ServedMember | null = null;
  for (const [p, u] of row.entries()) {
    if (u === null) continue;
    values.push(u);
    groups.push(matrix.groups?.[p] ?? -1);
    if (worstServed === null || u < worstServed.approval) {
      worstServed = { participantId: matrix.participants[p] as string, approval: u };
    }
  }
  if (values.length === 0) return { index: c, values, groups, mean: null, min: null, worstServed };
  return {
    index: c,
    values,
    groups,
    mean: utilitarian(values),
    min: egalitarian(values),
    worstServed,
  };
}

/**
 * Ranks the candidates of `matrix` for the group, best first, under `welfare`. Nulls
 * (members the model did not predict) are left out of each candidate's vector; a
 * candidate nobody was predicted for ranks last under every function. Ties are broken by
 * one random order of the candidates fixed by `seed`, so a round replays exactly.
 */
export function selectConsensus(
  matrix: ApprovalMatrix,
  welfare: WelfareName,
  seed: number | string,
): Selection {
  validateApprovalMatrix(matrix);
  const { candidates } = matrix;
  if (candidates.length === 0) {
    throw new DomainError('invalid_input', 'There are no candidates to choose from.');
  }

  const stats = candidates.map((_, c) => statsOf(matrix, c));
  const priority = new Array<number>(candidates.length);
  for (const [position, c] of shuffled(
    candidates.map((_, c) => c),
    createRng(seed),
  ).entries()) {
    priority[c] = position;
  }
  const byPriority = (a: Stats, b: Stats): number =>
    (priority[a.index] as number) - (priority[b.index] as number);

  const predicted = stats.filter((s) => s.values.length > 0);
  const unpredicted = stats.filter((s) => s.values.length === 0).sort(byPriority);

  const ranked: RankedCandidate[] = [];
  const push = (s: Stats, value: number | null, tiedWithPrevious: boolean): void => {
    ranked.push({
      candidateId: candidates[s.index] as string,
      rank: ranked.length + 1,
      welfare: value,
      mean: s.mean,
      min: s.min,
      predicted: s.values.length,
      worstServed: s.worstServed,
      tiedWithPrevious,
    });
  };

  let schulzeResult: SchulzeResult | null = null;
  if (welfare === 'schulze') {
    const ids = predicted.map((s) => candidates[s.index] as string);
    const rows = predicted.map((s) => matrix.approvals[s.index] as readonly (number | null)[]);
    const ballots = matrix.participants.map((_, p) =>
      ballotFromApprovals(
        ids,
        rows.map((row) => row[p] ?? null),
      ),
    );
    schulzeResult = schulze(ids, ballots, seed);
    const tierOf = new Map<string, number>();
    for (const [t, tier] of schulzeResult.tiers.entries()) for (const id of tier) tierOf.set(id, t);
    let previousTier = -1;
    for (const id of schulzeResult.order) {
      const k = ids.indexOf(id);
      const tier = tierOf.get(id) as number;
      push(predicted[k] as Stats, schulzeResult.wins[k] as number, tier === previousTier);
      previousTier = tier;
    }
  } else {
    const name = welfare;
    const sorted = [...predicted].sort(
      (a, b) => compareWelfare(name, a.values, b.values, a.groups, b.groups) || byPriority(a, b),
    );
    let previous: Stats | null = null;
    for (const s of sorted) {
      const tied =
        previous !== null &&
        compareWelfare(name, previous.values, s.values, previous.groups, s.groups) === 0;
      push(s, welfareScore(name, s.values, s.groups), tied);
      previous = s;
    }
  }
  for (const [i, s] of unpredicted.entries()) push(s, null, i > 0);

  return {
    welfare,
    ranked,
    schulze: schulzeResult,
    description: describeSelection(
      welfare,
      candidates.length,
      bridgedGroupCount(matrix.groups),
      // Members without a single prediction take part in no candidate's welfare.
      (matrix.groups ?? []).filter(
        (g, p) => g < 0 && matrix.approvals.some((row) => row[p] !== null && row[p] !== undefined),
      ).length,
    ),
  };
}

const METHOD: Record<WelfareName, string> = {
  utilitarian: "utilitarian welfare (the members' mean predicted approval)",
  egalitarian: "egalitarian welfare (the least-served member's predicted approval)",
  nash: 'Nash welfare (the mean log of predicted approvals, so anyone left near zero weighs heavily)',
  schulze:
    "the Schulze method (each member's predicted ranking of the candidates, combined by strongest paths)",
  bridging:
    "bridging welfare (each opinion group's mean predicted approval, combined as a product, so a statement one group rejects ranks low)",
};

/** E.g. "Chosen from 8 candidates by egalitarian welfare (the least-served member's …)." */
export function describeSelection(
  welfare: WelfareName,
  candidateCount: number,
  bridgedGroups = 0,
  unplaced = 0,
): string {
  const noun = candidateCount === 1 ? 'candidate' : 'candidates';
  const chosen = `Chosen from ${candidateCount} ${noun} by ${METHOD[welfare]}`;
  if (welfare !== 'bridging') return `${chosen}.`;
  if (bridgedGroups < 2) {
    return `${chosen}; no two opinion groups are known among these members yet (too few of the workspace's recent ratings to learn them from), so it ranked by the mean predicted approval.`;
  }
  const over = `${chosen}, over ${bridgedGroups} opinion groups learned from the workspace's ratings`;
  if (unplaced === 0) return `${over}.`;
  const members = unplaced === 1 ? '1 member' : `${unplaced} members`;
  return `${over}, and the ${members} in none of them as one more.`;
}
