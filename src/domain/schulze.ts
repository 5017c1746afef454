import { DomainError } from './errors.js';
import { createRng, shuffled } from './random.js';

/**
 * The Schulze method (winning votes, strongest paths), which the Habermas Machine uses
 * to combine members' rankings of the candidates into one ranking.
 */

/**
 * One member's ranking as tiers, most preferred first: `[['a'], ['b', 'c'], ['d']]`
 * means a > b = c > d. Candidates the ballot leaves out rank together below every listed
 * one, so a member who ranked only some candidates still prefers those to the rest.
 * Empty tiers are ignored.
 */
export type Ballot = readonly (readonly string[])[];

export interface SchulzeResult {
  /** The candidates in input order; rows and columns of `d` and `p` follow it. */
  candidates: string[];
  /** d[i][j] = how many ballots rank candidates[i] strictly above candidates[j]. */
  d: number[][];
  /**
   * p[i][j] = strength of the strongest path from i to j: a path's strength is its
   * weakest link, and a link i -> j exists (strength d[i][j]) only when d[i][j] > d[j][i].
   */
  p: number[][];
  /**
   * Schulze's relation in layers, best first: each layer holds the remaining candidates
   * that no remaining candidate beats, so candidates in one layer tie. Within a layer,
   * candidates appear in the seeded tie-break order.
   */
  tiers: string[][];
  /** Every candidate once, best first: `tiers` flattened. */
  order: string[];
  /** wins[i] = how many candidates candidates[i] beats (p[i][j] > p[j][i]). */
  wins: number[];
}

function validate(candidates: readonly string[], ballots: readonly Ballot[]): Map<string, number> {
  const index = new Map<string, number>();
  for (const [i, id] of candidates.entries()) {
    if (index.has(id)) {
      throw new DomainError('invalid_input', `Candidate "${id}" is listed twice.`);
    }
    index.set(id, i);
  }
  for (const [b, ballot] of ballots.entries()) {
    const seen = new Set<string>();
    for (const tier of ballot) {
      for (const id of tier) {
        if (!index.has(id)) {
          throw new DomainError(
            'invalid_input',
            `Ballot ${b + 1} ranks "${id}", which is not a candidate.`,
          );
        }
        if (seen.has(id)) {
          throw new DomainError('invalid_input', `Ballot ${b + 1} ranks "${id}" twice.`);
        }
        seen.add(id);
      }
    }
  }
  return index;
}

function square(n: number): number[][] {
  return Array.from({ length: n }, () => new Array<number>(n).fill(0));
}

/** Pairwise preferences: d[i][j] = ballots ranking i strictly above j. */
export function pairwisePreferences(
  candidates: readonly string[],
  ballots: readonly Ballot[],
): number[][] {
  const index = validate(candidates, ballots);
  const n = candidates.length;
  const d = square(n);
  for (const ballot of ballots) {
    const tiers = ballot.filter((tier) => tier.length > 0);
    // Unlisted candidates share the position after the last listed tier.
    const rank = new Array<number>(n).fill(tiers.length);
    for (const [t, tier] of tiers.entries()) {
      for (const id of tier) rank[index.get(id) as number] = t;
    }
    for (let i = 0; i < n; i++) {
      const row = d[i] as number[];
      for (let j = 0; j < n; j++) {
        if ((rank[i] as number) < (rank[j] as number)) row[j] = (row[j] as number) + 1;
      }
    }
  }
  return d;
}

/** Strongest path strengths from pairwise preferences (Floyd–Warshall, widest path). */
export function strongestPaths(d: readonly (readonly number[])[]): number[][] {
  const n = d.length;
  const p = square(n);
  const at = (m: readonly (readonly number[])[], i: number, j: number): number =>
    (m[i] as readonly number[])[j] as number;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i !== j && at(d, i, j) > at(d, j, i)) (p[i] as number[])[j] = at(d, i, j);
    }
  }
  for (let k = 0; k < n; k++) {
    for (let i = 0; i < n; i++) {
      if (i === k) continue;
      for (let j = 0; j < n; j++) {
        if (j === k || j === i) continue;
        const via = Math.min(at(p, i, k), at(p, k, j));
        if (via > at(p, i, j)) (p[i] as number[])[j] = via;
      }
    }
  }
  return p;
}

/** True when candidate i beats candidate j in Schulze's relation. */
export function schulzeBeats(p: readonly (readonly number[])[], i: number, j: number): boolean {
  const pij = (p[i] as readonly number[])[j] as number;
  const pji = (p[j] as readonly number[])[i] as number;
  return pij > pji;
}

/**
 * Ranks `candidates` by the Schulze method over `ballots`. Schulze's relation may leave
 * candidates tied; `seed` fixes one random order of the candidates that decides every
 * such tie, so the same inputs and seed always give the same `order`.
 */
export function schulze(
  candidates: readonly string[],
  ballots: readonly Ballot[],
  seed: number | string,
): SchulzeResult {
  const d = pairwisePreferences(candidates, ballots);
  const p = strongestPaths(d);
  const n = candidates.length;

  const wins = candidates.map((_, i) => {
    let count = 0;
    for (let j = 0; j < n; j++) if (j !== i && schulzeBeats(p, i, j)) count++;
    return count;
  });

  // Schulze proved the relation transitive, so some remaining candidate is always unbeaten
  // and peeling off the unbeaten layer terminates.
  const tieBreak = shuffled(
    candidates.map((_, i) => i),
    createRng(seed),
  );
  let remaining = tieBreak;
  const tiers: string[][] = [];
  while (remaining.length > 0) {
    const unbeaten = remaining.filter((i) => !remaining.some((j) => schulzeBeats(p, j, i)));
    if (unbeaten.length === 0) throw new Error('Schulze relation has a cycle; this is a bug.');
    tiers.push(unbeaten.map((i) => candidates[i] as string));
    remaining = remaining.filter((i) => !unbeaten.includes(i));
  }

  return { candidates: [...candidates], d, p, tiers, order: tiers.flat(), wins };
}
