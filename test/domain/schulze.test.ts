import { describe, expect, it } from 'vitest';
import { DomainError } from '../../src/domain/errors.js';
import { createRng, shuffled } from '../../src/domain/random.js';
import {
  type Ballot,
  pairwisePreferences,
  schulze,
  schulzeBeats,
  strongestPaths,
} from '../../src/domain/schulze.js';

/** `count` voters each ranking strictly in the order of the letters of `order`. */
function strict(count: number, order: string): Ballot[] {
  return Array.from({ length: count }, () => [...order].map((c) => [c]));
}

function named(count: number, order: readonly string[]): Ballot[] {
  return Array.from({ length: count }, () => order.map((c) => [c]));
}

describe('Wikipedia example (45 voters, A-E)', () => {
  const ballots = [
    ...strict(5, 'ACBED'),
    ...strict(5, 'ADECB'),
    ...strict(8, 'BEDAC'),
    ...strict(3, 'CABED'),
    ...strict(7, 'CAEBD'),
    ...strict(2, 'CBADE'),
    ...strict(7, 'DCEBA'),
    ...strict(8, 'EBADC'),
  ];
  const result = schulze(['A', 'B', 'C', 'D', 'E'], ballots, 42);

  it('has the published pairwise preferences', () => {
    // e.g. d[A][B]: ACBED 5 + ADECB 5 + CABED 3 + CAEBD 7 = 20
    expect(result.d).toEqual([
      [0, 20, 26, 30, 22],
      [25, 0, 16, 33, 18],
      [19, 29, 0, 17, 24],
      [15, 12, 28, 0, 14],
      [23, 27, 21, 31, 0],
    ]);
  });

  it('has the published strongest paths', () => {
    // e.g. p[E][D]: E -> D directly, 31; p[A][B]: A -> C -> B = min(26, 29) = 28
    expect(result.p).toEqual([
      [0, 28, 28, 30, 24],
      [25, 0, 28, 33, 24],
      [25, 29, 0, 29, 24],
      [25, 28, 28, 0, 24],
      [25, 28, 28, 31, 0],
    ]);
  });

  it('ranks E > A > C > B > D with no ties', () => {
    expect(result.order).toEqual(['E', 'A', 'C', 'B', 'D']);
    expect(result.tiers).toEqual([['E'], ['A'], ['C'], ['B'], ['D']]);
    expect(result.wins).toEqual([3, 1, 2, 0, 4]);
  });

  it('does not depend on the seed when nothing ties', () => {
    for (const seed of [0, 1, 'round-7']) {
      expect(schulze(['A', 'B', 'C', 'D', 'E'], ballots, seed).order).toEqual(result.order);
    }
  });
});

describe("Schulze's example 1 (21 voters, A-D)", () => {
  // M. Schulze, "A new monotonic, clone-independent, reversal symmetric, and
  // Condorcet-consistent single-winner election method" (2011), example 1.
  const ballots = [
    ...strict(8, 'ACDB'),
    ...strict(2, 'BADC'),
    ...strict(4, 'CDBA'),
    ...strict(4, 'DBAC'),
    ...strict(3, 'DCBA'),
  ];
  const result = schulze(['A', 'B', 'C', 'D'], ballots, 1);

  it('has the hand-computed matrices', () => {
    // d[A][B] = 8 (ACDB); d[A][C] = 8 + 2 + 4 = 14; d[C][B] = 8 + 4 + 3 = 15 ...
    expect(result.d).toEqual([
      [0, 8, 14, 10],
      [13, 0, 6, 2],
      [7, 15, 0, 12],
      [11, 19, 9, 0],
    ]);
    // Links: B>A 13, A>C 14, D>A 11, C>B 15, D>B 19, C>D 12.
    // p[A][B] = A-C-B = min(14, 15); p[D][C] = D-B-A-C = min(19, 13, 14) ...
    expect(result.p).toEqual([
      [0, 14, 14, 12],
      [13, 0, 13, 12],
      [13, 15, 0, 12],
      [13, 19, 13, 0],
    ]);
  });

  it('elects D, although C beats D head to head 12:9', () => {
    // D -> B -> A -> C has strength 13 > C -> D's 12.
    expect(schulzeBeats(result.p, 3, 2)).toBe(true);
    expect(result.order).toEqual(['D', 'A', 'C', 'B']);
    expect(result.wins).toEqual([2, 0, 1, 3]);
  });
});

describe('Tennessee capital (Condorcet winner Nashville)', () => {
  // Wikipedia's standard example: 42% Memphis, 26% Nashville, 15% Chattanooga,
  // 17% Knoxville, each preferring nearer cities.
  const ballots = [
    ...named(42, ['Memphis', 'Nashville', 'Chattanooga', 'Knoxville']),
    ...named(26, ['Nashville', 'Chattanooga', 'Knoxville', 'Memphis']),
    ...named(15, ['Chattanooga', 'Knoxville', 'Nashville', 'Memphis']),
    ...named(17, ['Knoxville', 'Chattanooga', 'Nashville', 'Memphis']),
  ];
  const cities = ['Memphis', 'Nashville', 'Chattanooga', 'Knoxville'];
  const result = schulze(cities, ballots, 3);

  it('ranks Nashville > Chattanooga > Knoxville > Memphis', () => {
    expect(result.order).toEqual(['Nashville', 'Chattanooga', 'Knoxville', 'Memphis']);
    // Nashville over Memphis 58, over Chattanooga 68, over Knoxville 68;
    // Chattanooga over Knoxville 83, over Memphis 58; Knoxville over Memphis 58.
    expect(result.d).toEqual([
      [0, 42, 42, 42],
      [58, 0, 68, 68],
      [58, 32, 0, 83],
      [58, 32, 17, 0],
    ]);
    expect(result.p).toEqual([
      [0, 0, 0, 0],
      [58, 0, 68, 68],
      [58, 0, 0, 83],
      [58, 0, 0, 0],
    ]);
  });
});

describe('Condorcet winner', () => {
  it('wins even when the others form a cycle', () => {
    // X beats a, b, c 2:1 each; a > b > c > a 2:1 each.
    const ballots: Ballot[] = [
      [['X'], ['a'], ['b'], ['c']],
      [['b'], ['X'], ['c'], ['a']],
      [['c'], ['a'], ['X'], ['b']],
    ];
    const result = schulze(['a', 'b', 'c', 'X'], ballots, 5);
    expect(result.order[0]).toBe('X');
    expect(result.tiers[0]).toEqual(['X']);
    // Every cycle member reaches every other with strength 2, so they tie.
    expect([...(result.tiers[1] ?? [])].sort()).toEqual(['a', 'b', 'c']);
    expect(result.tiers).toHaveLength(2);
    expect(result.wins).toEqual([0, 0, 0, 3]);
  });

  it('always wins on random electorates that have one', () => {
    const rng = createRng('condorcet');
    const candidates = ['a', 'b', 'c', 'd', 'e'];
    let checked = 0;
    for (let trial = 0; trial < 300; trial++) {
      const voters = 1 + Math.floor(rng.next() * 9);
      const ballots = Array.from({ length: voters }, () =>
        shuffled(candidates, rng).map((c) => [c]),
      );
      const d = pairwisePreferences(candidates, ballots);
      const winner = candidates.findIndex((_, i) =>
        candidates.every((_, j) => i === j || (d[i]?.[j] ?? 0) > (d[j]?.[i] ?? 0)),
      );
      if (winner < 0) continue;
      checked++;
      const result = schulze(candidates, ballots, trial);
      expect(result.order[0]).toBe(candidates[winner]);
      expect(result.tiers[0]).toEqual([candidates[winner]]);
    }
    expect(checked).toBeGreaterThan(100);
  });
});

describe('ties', () => {
  const candidates = ['a', 'b', 'c', 'd', 'e'];
  // Mirror-image ballots: every pair is 1:1.
  const mirrored: Ballot[] = [
    [['a'], ['b'], ['c'], ['d'], ['e']],
    [['e'], ['d'], ['c'], ['b'], ['a']],
  ];

  it.each([
    { name: 'no ballots', ballots: [] as Ballot[] },
    { name: 'mirrored ballots', ballots: mirrored },
    { name: 'one all-tied ballot', ballots: [[candidates]] as Ballot[] },
  ])('a full tie ($name) is one tier broken by the seed', ({ ballots }) => {
    const result = schulze(candidates, ballots, 11);
    expect(result.tiers).toHaveLength(1);
    expect([...result.order].sort()).toEqual(candidates);
    expect(result.wins).toEqual([0, 0, 0, 0, 0]);
    expect(result.p.flat().every((x) => x === 0)).toBe(true);
    expect(schulze(candidates, ballots, 11).order).toEqual(result.order);
  });

  it('gives the same order for the same seed and different orders for some seeds', () => {
    const orders = new Set<string>();
    for (let seed = 0; seed < 20; seed++) {
      const once = schulze(candidates, mirrored, seed).order;
      expect(schulze(candidates, mirrored, seed).order).toEqual(once);
      orders.add(once.join(''));
    }
    expect(orders.size).toBeGreaterThan(1);
  });

  it('counts ballots with tied tiers', () => {
    // 2 x (a = b > c), 1 x (c > a > b):
    // d[a][b] = 1, d[b][a] = 0; d[a][c] = d[b][c] = 2, d[c][a] = d[c][b] = 1.
    const ballots: Ballot[] = [
      [['a', 'b'], ['c']],
      [['b', 'a'], ['c']],
      [['c'], ['a'], ['b']],
    ];
    const result = schulze(['a', 'b', 'c'], ballots, 0);
    expect(result.d).toEqual([
      [0, 1, 2],
      [0, 0, 2],
      [1, 1, 0],
    ]);
    expect(result.p).toEqual([
      [0, 1, 2],
      [0, 0, 2],
      [0, 0, 0],
    ]);
    expect(result.order).toEqual(['a', 'b', 'c']);
  });

  it('ranks candidates missing from a ballot below all listed ones, tied', () => {
    // [[b]] means b > a = c.
    const result = schulze(['a', 'b', 'c'], [[['b']]], 0);
    expect(result.d).toEqual([
      [0, 0, 0],
      [1, 0, 1],
      [0, 0, 0],
    ]);
    expect(result.tiers[0]).toEqual(['b']);
    expect([...(result.tiers[1] ?? [])].sort()).toEqual(['a', 'c']);
  });

  it('ignores empty tiers', () => {
    const withEmpty = schulze(['a', 'b'], [[[], ['b'], [], ['a']]], 0);
    expect(withEmpty.d).toEqual([
      [0, 0],
      [1, 0],
    ]);
  });
});

describe('helpers and edge cases', () => {
  it('strongestPaths keeps only winning links before widening', () => {
    // a > b 3:2, b > c 4:1, a vs c 2:2 (no link): p[a][c] = min(3, 4) = 3.
    const p = strongestPaths([
      [0, 3, 2],
      [2, 0, 4],
      [2, 1, 0],
    ]);
    expect(p).toEqual([
      [0, 3, 3],
      [0, 0, 4],
      [0, 0, 0],
    ]);
    expect(schulzeBeats(p, 0, 2)).toBe(true);
    expect(schulzeBeats(p, 2, 0)).toBe(false);
    expect(schulzeBeats(p, 1, 1)).toBe(false);
  });

  it('handles no candidates and one candidate', () => {
    expect(schulze([], [], 0)).toEqual({
      candidates: [],
      d: [],
      p: [],
      tiers: [],
      order: [],
      wins: [],
    });
    expect(schulze(['only'], [[['only']]], 0).order).toEqual(['only']);
  });

  it.each([
    {
      name: 'unknown candidate',
      candidates: ['a', 'b'],
      ballots: [[['a'], ['z']]],
      message: /"z"/,
    },
    {
      name: 'candidate twice in a ballot',
      candidates: ['a', 'b'],
      ballots: [[['a'], ['b', 'a']]],
      message: /twice/,
    },
    { name: 'duplicate candidate', candidates: ['a', 'a'], ballots: [], message: /listed twice/ },
  ])('rejects $name', ({ candidates, ballots, message }) => {
    expect(() => schulze(candidates, ballots as Ballot[], 0)).toThrow(DomainError);
    expect(() => schulze(candidates, ballots as Ballot[], 0)).toThrow(message);
  });
});
