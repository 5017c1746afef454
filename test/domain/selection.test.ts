import { describe, expect, it } from 'vitest';
import type { ApprovalMatrix } from '../../src/domain/candidate.js';
import { DomainError } from '../../src/domain/errors.js';
import {
  ballotFromApprovals,
  describeSelection,
  selectConsensus,
  validateApprovalMatrix,
} from '../../src/domain/selection.js';
import type { WelfareName } from '../../src/domain/welfare-name.js';

// c1 pleases two members fully and the third not at all; c2 pleases everyone half;
// c3 sits between; nobody was predicted for c4.
const matrix: ApprovalMatrix = {
  participants: ['p1', 'p2', 'p3'],
  candidates: ['c1', 'c2', 'c3', 'c4'],
  approvals: [
    [1, 1, 0],
    [0.5, 0.5, 0.5],
    [0.75, 0.75, 0.25],
    [null, null, null],
  ],
};

describe('selectConsensus on one matrix under each function', () => {
  const cases: { welfare: WelfareName; order: string[]; values: (number | null)[] }[] = [
    // means: c1 2/3, c3 7/12, c2 1/2
    {
      welfare: 'utilitarian',
      order: ['c1', 'c3', 'c2', 'c4'],
      values: [0.666667, 0.583333, 0.5, null],
    },
    // mins: c2 0.5, c3 0.25, c1 0
    { welfare: 'egalitarian', order: ['c2', 'c3', 'c1', 'c4'], values: [0.5, 0.25, 0, null] },
    // c3: (2 ln 0.75 + ln 0.25) / 3 = -0.653886; c2: ln 0.5 = -0.693147;
    // c1: ln 0.001 / 3 = -2.302585
    {
      welfare: 'nash',
      order: ['c3', 'c2', 'c1', 'c4'],
      values: [-0.653886, -Math.LN2, -Math.LN10, null],
    },
    // Ballots: p1, p2: c1 > c3 > c2; p3: c2 > c3 > c1. Every pair 2:1 for the first
    // two members' side, so c1 beats 2, c3 beats 1, c2 beats none.
    { welfare: 'schulze', order: ['c1', 'c3', 'c2', 'c4'], values: [2, 1, 0, null] },
  ];

  it.each(cases)('$welfare', ({ welfare, order, values }) => {
    const selection = selectConsensus(matrix, welfare, 7);
    expect(selection.welfare).toBe(welfare);
    expect(selection.ranked.map((r) => r.candidateId)).toEqual(order);
    expect(selection.ranked.map((r) => r.rank)).toEqual([1, 2, 3, 4]);
    selection.ranked.forEach((r, i) => {
      const expected = values[i];
      if (expected === null || expected === undefined) expect(r.welfare).toBeNull();
      else expect(r.welfare).toBeCloseTo(expected, 6);
      expect(r.tiedWithPrevious).toBe(false);
    });
    expect(selection.schulze === null).toBe(welfare !== 'schulze');
  });

  it('reports mean, min, predicted count and the worst-served member', () => {
    const byId = new Map(
      selectConsensus(matrix, 'egalitarian', 7).ranked.map((r) => [r.candidateId, r]),
    );
    expect(byId.get('c1')).toMatchObject({
      min: 0,
      predicted: 3,
      worstServed: { participantId: 'p3', approval: 0 },
    });
    expect(byId.get('c1')?.mean).toBeCloseTo(2 / 3, 12);
    // Everyone at 0.5: the first member in matrix order is named.
    expect(byId.get('c2')).toMatchObject({
      mean: 0.5,
      min: 0.5,
      predicted: 3,
      worstServed: { participantId: 'p1', approval: 0.5 },
    });
    expect(byId.get('c3')).toMatchObject({
      min: 0.25,
      worstServed: { participantId: 'p3', approval: 0.25 },
    });
    expect(byId.get('c4')).toEqual({
      candidateId: 'c4',
      rank: 4,
      welfare: null,
      mean: null,
      min: null,
      predicted: 0,
      worstServed: null,
      tiedWithPrevious: false,
    });
  });

  it('returns the Schulze matrices over the predicted candidates', () => {
    const { schulze } = selectConsensus(matrix, 'schulze', 7);
    expect(schulze?.candidates).toEqual(['c1', 'c2', 'c3']);
    expect(schulze?.d).toEqual([
      [0, 2, 2],
      [1, 0, 1],
      [1, 2, 0],
    ]);
    expect(schulze?.p).toEqual([
      [0, 2, 2],
      [0, 0, 0],
      [0, 2, 0],
    ]);
  });

  it('writes the description', () => {
    expect(selectConsensus(matrix, 'egalitarian', 7).description).toBe(
      "Chosen from 4 candidates by egalitarian welfare (the least-served member's predicted approval).",
    );
  });
});

describe('missing predictions', () => {
  it('leaves nulls out rather than counting them as zero', () => {
    // c2 was predicted only for p1, at 0.9: its min and mean are 0.9.
    const m: ApprovalMatrix = {
      participants: ['p1', 'p2'],
      candidates: ['c1', 'c2'],
      approvals: [
        [0.6, 0.7],
        [0.9, null],
      ],
    };
    const [first, second] = selectConsensus(m, 'egalitarian', 1).ranked;
    expect(first).toMatchObject({ candidateId: 'c2', welfare: 0.9, mean: 0.9, predicted: 1 });
    expect(second).toMatchObject({ candidateId: 'c1', welfare: 0.6, predicted: 2 });
  });

  it('under Schulze, ranks an unpredicted candidate below the predicted ones on that ballot', () => {
    // p1: y > x; p2: y > x (x unknown, so below y's 0.1); p3: x > y. y wins 2:1,
    // although x has the higher mean over the members predicted (0.55 vs 0.33).
    const m: ApprovalMatrix = {
      participants: ['p1', 'p2', 'p3'],
      candidates: ['x', 'y'],
      approvals: [
        [0.2, null, 0.9],
        [0.8, 0.1, 0.1],
      ],
    };
    expect(selectConsensus(m, 'schulze', 1).ranked.map((r) => r.candidateId)).toEqual(['y', 'x']);
    expect(selectConsensus(m, 'utilitarian', 1).ranked.map((r) => r.candidateId)).toEqual([
      'x',
      'y',
    ]);
  });

  it.each<WelfareName>(['utilitarian', 'egalitarian', 'nash', 'schulze'])(
    '%s puts candidates with no prediction last, even when the others score 0',
    (welfare) => {
      const m: ApprovalMatrix = {
        participants: ['p1', 'p2'],
        candidates: ['none1', 'zero', 'none2'],
        approvals: [
          [null, null],
          [0, 0],
          [null, null],
        ],
      };
      const ranked = selectConsensus(m, welfare, 3).ranked;
      expect(ranked[0]?.candidateId).toBe('zero');
      expect(ranked.slice(1).map((r) => r.predicted)).toEqual([0, 0]);
      expect(ranked[2]?.tiedWithPrevious).toBe(true);
    },
  );

  it('handles a matrix with no participants at all', () => {
    const m: ApprovalMatrix = { participants: [], candidates: ['a', 'b'], approvals: [[], []] };
    const ranked = selectConsensus(m, 'schulze', 0).ranked;
    expect(ranked.map((r) => r.predicted)).toEqual([0, 0]);
    expect(ranked.map((r) => r.welfare)).toEqual([null, null]);
  });
});

describe('ties', () => {
  const twins: ApprovalMatrix = {
    participants: ['p1', 'p2'],
    candidates: ['a', 'b', 'c'],
    approvals: [
      [0.5, 1],
      [1, 0.5],
      [0.5, 0.6],
    ],
  };

  it('breaks egalitarian ties by the mean', () => {
    // All mins are 0.5; means a 0.75, b 0.75, c 0.55.
    const ranked = selectConsensus(twins, 'egalitarian', 0).ranked;
    expect(ranked[2]).toMatchObject({ candidateId: 'c', tiedWithPrevious: false });
    expect(ranked[1]?.tiedWithPrevious).toBe(true);
  });

  it.each<WelfareName>(['utilitarian', 'egalitarian', 'nash', 'schulze'])(
    '%s breaks exact ties by the seed, reproducibly',
    (welfare) => {
      const orders = new Set<string>();
      for (let seed = 0; seed < 20; seed++) {
        const order = selectConsensus(twins, welfare, seed).ranked.map((r) => r.candidateId);
        expect(selectConsensus(twins, welfare, seed).ranked.map((r) => r.candidateId)).toEqual(
          order,
        );
        expect(order[2]).toBe('c');
        orders.add(order.join(''));
      }
      expect(orders).toEqual(new Set(['abc', 'bac']));
    },
  );
});

describe('ballotFromApprovals', () => {
  it.each([
    { approvals: [0.5, 1, 0], ballot: [['b'], ['a'], ['c']] },
    { approvals: [0.5, 0.5, 1], ballot: [['c'], ['a', 'b']] },
    { approvals: [null, 0.2, null], ballot: [['b']] },
    { approvals: [null, null, null], ballot: [] },
  ])('$approvals -> $ballot', ({ approvals, ballot }) => {
    expect(ballotFromApprovals(['a', 'b', 'c'], approvals)).toEqual(ballot);
  });
});

describe('validateApprovalMatrix', () => {
  const cases: { name: string; matrix: ApprovalMatrix; message: RegExp }[] = [
    {
      name: 'too few rows',
      matrix: { participants: ['p1'], candidates: ['a', 'b'], approvals: [[1]] },
      message: /1 rows but there are 2 candidates/,
    },
    {
      name: 'a short row',
      matrix: { participants: ['p1', 'p2'], candidates: ['a', 'b'], approvals: [[1, 0], [1]] },
      message: /Row 1 .*"b".* 1 entries but there are 2 participants/,
    },
    {
      name: 'an approval above 1',
      matrix: { participants: ['p1'], candidates: ['a'], approvals: [[1.5]] },
      message: /malformed at "approvals.0.0"/,
    },
    {
      name: 'a duplicate candidate',
      matrix: { participants: ['p1'], candidates: ['a', 'a'], approvals: [[1], [0]] },
      message: /candidate "a" twice/,
    },
    {
      name: 'a duplicate participant',
      matrix: { participants: ['p1', 'p1'], candidates: ['a'], approvals: [[1, 0]] },
      message: /participant "p1" twice/,
    },
  ];

  it.each(cases)('rejects $name', ({ matrix: m, message }) => {
    expect(() => validateApprovalMatrix(m)).toThrow(message);
    try {
      selectConsensus(m, 'utilitarian', 0);
      expect.unreachable('should have thrown');
    } catch (error) {
      expect(error).toBeInstanceOf(DomainError);
      expect((error as DomainError).code).toBe('invalid_input');
    }
  });

  it('rejects selecting from no candidates', () => {
    expect(() =>
      selectConsensus({ participants: ['p1'], candidates: [], approvals: [] }, 'nash', 0),
    ).toThrow(/no candidates/);
  });
});

describe('selectConsensus with bridging welfare', () => {
  // p1-p4 form one opinion group, p5 and p6 another, p7 is in none. c1 delights the
  // large group and loses the small one; c2 is fairly good for both.
  const grouped: ApprovalMatrix = {
    participants: ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7'],
    candidates: ['c1', 'c2'],
    approvals: [
      [1, 1, 1, 1, 0, 0, 1],
      [0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6],
    ],
    groups: [0, 0, 0, 0, 1, 1, -1],
  };

  it('picks the candidate both groups accept over the one a larger group loves', () => {
    const selection = selectConsensus(grouped, 'bridging', 1);
    expect(selection.ranked.map((r) => r.candidateId)).toEqual(['c2', 'c1']);
    expect(selection.ranked[0]?.welfare).toBeCloseTo(Math.log(0.6), 9);
    // Utilitarian, on the same numbers, prefers c1 (mean 0.71 against 0.6).
    expect(selectConsensus(grouped, 'utilitarian', 1).ranked[0]?.candidateId).toBe('c1');
    expect(selection.description).toMatch(
      /bridging welfare .*over 2 opinion groups .*and the 1 member in none of them as one more\./,
    );
  });

  it('leaves out the groups of members nobody predicted', () => {
    // p5 and p6 unpredicted for c1: only group 0 remains, so c1's room mean (1) counts.
    const partial: ApprovalMatrix = {
      ...grouped,
      approvals: [[1, 1, 1, 1, null, null, 1], grouped.approvals[1] as (number | null)[]],
    };
    const selection = selectConsensus(partial, 'bridging', 1);
    expect(selection.ranked[0]?.candidateId).toBe('c1');
    expect(selection.ranked[0]?.welfare).toBeCloseTo(0, 9);
  });

  it('counts as unplaced only the members in no group who were predicted', () => {
    const unpredicted: ApprovalMatrix = {
      ...grouped,
      participants: [...grouped.participants, 'p8'],
      approvals: grouped.approvals.map((row) => [...row, null]),
      groups: [...(grouped.groups ?? []), -1],
    };
    expect(selectConsensus(unpredicted, 'bridging', 1).description).toMatch(
      /and the 1 member in none of them/,
    );
    // p7 predicted for c2 only still takes part in c2's welfare, so still counts.
    const once: ApprovalMatrix = {
      ...grouped,
      approvals: [[1, 1, 1, 1, 0, 0, null], grouped.approvals[1] as (number | null)[]],
    };
    expect(selectConsensus(once, 'bridging', 1).description).toMatch(
      /and the 1 member in none of them/,
    );
  });

  it('ranks by the mean and says so when no groups are known', () => {
    const { groups: _groups, ...ungrouped } = grouped;
    const selection = selectConsensus(ungrouped, 'bridging', 1);
    expect(selection.ranked.map((r) => r.candidateId)).toEqual(['c1', 'c2']);
    expect(selection.description).toMatch(/no two opinion groups are known/);
    expect(selection.description).toMatch(/mean predicted approval/);
  });

  it('refuses a groups list that does not match the participants', () => {
    expect(() => validateApprovalMatrix({ ...grouped, groups: [0, 1, 2.5, 0, 0, 0, 0] })).toThrow(
      DomainError,
    );
    expect(() => validateApprovalMatrix({ ...grouped, groups: [0, 1] })).toThrow(
      /2 opinion groups but there are 7 participants/,
    );
  });
});

describe('describeSelection', () => {
  it.each<{ welfare: WelfareName; count: number; text: string }>([
    {
      welfare: 'utilitarian',
      count: 8,
      text: "Chosen from 8 candidates by utilitarian welfare (the members' mean predicted approval).",
    },
    {
      welfare: 'egalitarian',
      count: 16,
      text: "Chosen from 16 candidates by egalitarian welfare (the least-served member's predicted approval).",
    },
    {
      welfare: 'nash',
      count: 1,
      text: 'Chosen from 1 candidate by Nash welfare (the mean log of predicted approvals, so anyone left near zero weighs heavily).',
    },
    {
      welfare: 'schulze',
      count: 3,
      text: "Chosen from 3 candidates by the Schulze method (each member's predicted ranking of the candidates, combined by strongest paths).",
    },
  ])('$welfare, $count', ({ welfare, count, text }) => {
    expect(describeSelection(welfare, count)).toBe(text);
  });
});
