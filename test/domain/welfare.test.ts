import { describe, expect, it } from 'vitest';
import { DomainError } from '../../src/domain/errors.js';
import {
  bridgedGroupCount,
  bridging,
  compareWelfare,
  egalitarian,
  isoelastic,
  isoelasticEquivalent,
  isScalarWelfare,
  NASH_FLOOR,
  nash,
  type ScalarWelfareName,
  utilitarian,
  welfareKey,
  welfareScore,
} from '../../src/domain/welfare.js';

// ln 0.5 = -0.693147, ln 0.25 = -1.386294, ln 0.75 = -0.287682, ln 0.001 = -6.907755
describe('utilitarian, egalitarian, nash', () => {
  const cases: {
    approvals: number[];
    mean: number;
    min: number;
    nash: number;
  }[] = [
    { approvals: [1], mean: 1, min: 1, nash: 0 },
    { approvals: [0.5, 0.5], mean: 0.5, min: 0.5, nash: -Math.LN2 },
    { approvals: [0.25, 1], mean: 0.625, min: 0.25, nash: -Math.LN2 },
    // 0 is floored at 0.001: (0 - 0.693147 - 6.907755) / 3
    { approvals: [1, 0.5, 0], mean: 0.5, min: 0, nash: -2.533634 },
    // (2 * -0.287682 - 1.386294) / 3
    { approvals: [0.75, 0.75, 0.25], mean: 0.583333, min: 0.25, nash: -0.653886 },
    { approvals: [0, 0], mean: 0, min: 0, nash: -6.907755 },
  ];
  it.each(cases)('$approvals', ({ approvals, mean, min, nash: expectedNash }) => {
    expect(utilitarian(approvals)).toBeCloseTo(mean, 6);
    expect(egalitarian(approvals)).toBe(min);
    expect(nash(approvals)).toBeCloseTo(expectedNash, 6);
  });

  it('floors Nash at NASH_FLOOR', () => {
    expect(NASH_FLOOR).toBe(1e-3);
    expect(nash([0])).toBe(Math.log(NASH_FLOOR));
    expect(nash([0.0005])).toBe(Math.log(NASH_FLOOR));
  });
});

describe('isoelastic', () => {
  const cases: { approvals: number[]; alpha: number; value: number }[] = [
    // a = 0: mean(u / 1)
    { approvals: [1, 0.5, 0], alpha: 0, value: 0.5 },
    // a = 0.5: mean(2 sqrt(u)) = (2 + 1.414214 + 0) / 3
    { approvals: [1, 0.5, 0], alpha: 0.5, value: 1.138071 },
    // a = 1: Nash
    { approvals: [1, 0.5, 0], alpha: 1, value: -2.533634 },
    // a = 2: mean(-1/u) with 0 floored: -(1 + 2 + 1000) / 3
    { approvals: [1, 0.5, 0], alpha: 2, value: -334.333333 },
    { approvals: [1, 0.5, 0], alpha: Number.POSITIVE_INFINITY, value: 0 },
    // a = 0.5: (2 * 0.5 + 2 * 1) / 2
    { approvals: [0.25, 1], alpha: 0.5, value: 1.5 },
    // a = 2: -(4 + 1) / 2
    { approvals: [0.25, 1], alpha: 2, value: -2.5 },
  ];
  it.each(cases)('alpha $alpha of $approvals', ({ approvals, alpha, value }) => {
    expect(isoelastic(approvals, alpha)).toBeCloseTo(value, 6);
  });

  it('stays on the geometric mean for alphas a rounding away from 1', () => {
    // [0.25, 1]: geometric mean 0.5, which every alpha this close to 1 must give.
    for (const alpha of [1 + 2 ** -52, 1 - 2 ** -53, 1 + 1e-12, 1 - 1e-12, 1 + 1e-9]) {
      expect(isoelasticEquivalent([0.25, 1], alpha)).toBeCloseTo(0.5, 8);
    }
  });

  it('keeps a zero approval from sinking the whole vector just below alpha = 1', () => {
    // a = 1 - 1e-6: mean(u^1e-6) / 1e-6 = (0 + 0.5^1e-6 + 1) / 3 * 1e6 ~ 666666.4, not the
    // 0 of [0, 0, 0]; through the equivalent, mean^(1e6) underflowed to 0 and tied them.
    const alpha = 1 - 1e-6;
    expect(isoelastic([0, 0.5, 1], alpha)).toBeCloseTo(((0 + 0.5 ** 1e-6 + 1) / 3) * 1e6, 2);
    expect(isoelastic([0, 0, 0], alpha)).toBe(0);
    expect(isoelastic([0, 0.5, 1], alpha)).toBeGreaterThan(isoelastic([0, 0.5, 0.9], alpha));
  });

  it('agrees with the named functions at their alphas', () => {
    const u = [0.9, 0.3, 0.6, 0.05];
    expect(isoelastic(u, 0)).toBeCloseTo(utilitarian(u), 12);
    expect(isoelastic(u, 1)).toBe(nash(u));
    expect(isoelastic(u, Number.POSITIVE_INFINITY)).toBe(egalitarian(u));
    // (u^(1-a) - 1) / (1-a) -> ln u as a -> 1, so W_a minus the constant 1/(1-a) -> Nash.
    const a = 1 + 1e-7;
    expect(isoelastic(u, a) - 1 / (1 - a)).toBeCloseTo(nash(u), 4);
  });

  // For [0.25, 1]: arithmetic mean 0.625; a = 0.5: (0.5 * 1.5)^2 = 0.5625; a = 1: geometric
  // mean 0.5; a = 2: harmonic mean 2 / (4 + 1) = 0.4; a = 50: ((4^49 + 1) / 2)^(-1/49)
  // ~ 0.25 * 2^(1/49) = 0.25 * 1.014246 = 0.253562; a = Infinity: min 0.25.
  const equivalents: { alpha: number; value: number }[] = [
    { alpha: 0, value: 0.625 },
    { alpha: 0.5, value: 0.5625 },
    { alpha: 1, value: 0.5 },
    { alpha: 2, value: 0.4 },
    { alpha: 50, value: 0.253562 },
    { alpha: Number.POSITIVE_INFINITY, value: 0.25 },
  ];
  it.each(equivalents)('equivalent approval at alpha $alpha', ({ alpha, value }) => {
    expect(isoelasticEquivalent([0.25, 1], alpha)).toBeCloseTo(value, 6);
  });

  it('moves from the mean towards the minimum as alpha grows', () => {
    const values = equivalents.map(({ alpha }) => isoelasticEquivalent([0.25, 1], alpha));
    for (let i = 1; i < values.length; i++) {
      expect(values[i]).toBeLessThan(values[i - 1] as number);
    }
  });

  it('stays finite and ordered for alphas whose powers overflow a double', () => {
    // 4^599 and 1000^999 are far beyond 1e308; the equivalent must still read ~ the minimum.
    for (const alpha of [200, 600, 1e6]) {
      const equivalent = isoelasticEquivalent([0.25, 1], alpha);
      expect(equivalent).toBeGreaterThanOrEqual(0.25);
      expect(equivalent).toBeLessThan(0.25 * 2 ** (1 / (alpha - 1)) + 1e-12);
      // A zero (floored at 1e-3) is the minimum too.
      expect(isoelasticEquivalent([0, 1], alpha)).toBeCloseTo(1e-3, 4);
      // Near the min rule, [0.5, 0.9] beats [0.4, 1] although its mean is lower.
      expect(isoelasticEquivalent([0.5, 0.9], alpha)).toBeGreaterThan(
        isoelasticEquivalent([0.4, 1], alpha),
      );
    }
  });

  it.each([-1, -0.001, Number.NaN])('rejects alpha %s', (alpha) => {
    expect(() => isoelastic([0.5], alpha)).toThrow(DomainError);
    expect(() => isoelasticEquivalent([0.5], alpha)).toThrow(/alpha/);
  });
});

describe('input validation', () => {
  const bad: number[][] = [[], [1.2], [-0.1], [Number.NaN], [0.5, Number.POSITIVE_INFINITY]];
  const fns: [string, (u: readonly number[]) => number][] = [
    ['utilitarian', utilitarian],
    ['egalitarian', egalitarian],
    ['nash', nash],
    ['isoelastic 0.5', (u) => isoelastic(u, 0.5)],
    ['isoelastic 1', (u) => isoelastic(u, 1)],
    ['isoelastic Infinity', (u) => isoelastic(u, Number.POSITIVE_INFINITY)],
  ];
  for (const [name, fn] of fns) {
    it.each(bad.map((u) => ({ u })))(`${name} rejects $u`, ({ u }) => {
      try {
        fn(u);
        expect.unreachable('should have thrown');
      } catch (error) {
        expect(error).toBeInstanceOf(DomainError);
        expect((error as DomainError).code).toBe('invalid_input');
      }
    });
  }
});

describe('welfareScore and welfareKey', () => {
  const u = [0.75, 0.75, 0.25];
  const cases: { name: ScalarWelfareName; score: number; key: number[] }[] = [
    { name: 'utilitarian', score: 0.583333, key: [0.583333, 0.25] },
    { name: 'egalitarian', score: 0.25, key: [0.25, 0.583333] },
    { name: 'nash', score: -0.653886, key: [-0.653886, 0.583333] },
  ];
  it.each(cases)('$name', ({ name, score, key }) => {
    expect(welfareScore(name, u)).toBeCloseTo(score, 6);
    const actual = welfareKey(name, u);
    expect(actual).toHaveLength(key.length);
    for (const [i, k] of key.entries()) expect(actual[i]).toBeCloseTo(k, 6);
  });

  it('tells scalar functions from Schulze', () => {
    expect(isScalarWelfare('egalitarian')).toBe(true);
    expect(isScalarWelfare('schulze')).toBe(false);
  });
});

describe('compareWelfare', () => {
  const cases: {
    name: ScalarWelfareName;
    a: number[];
    b: number[];
    expected: 'a' | 'b' | 'tie';
    why: string;
  }[] = [
    { name: 'utilitarian', a: [1, 0], b: [0.4, 0.4], expected: 'a', why: '0.5 > 0.4' },
    {
      name: 'utilitarian',
      a: [0.5, 0.5],
      b: [0, 1],
      expected: 'a',
      why: 'equal means, min 0.5 > 0',
    },
    {
      name: 'utilitarian',
      a: [0.1, 0.2, 0.3],
      b: [0.3, 0.2, 0.1],
      expected: 'tie',
      why: 'same values; float sums differ in the last bit',
    },
    { name: 'egalitarian', a: [1, 0], b: [0.4, 0.4], expected: 'b', why: 'min 0 < 0.4' },
    {
      name: 'egalitarian',
      a: [0.5, 1],
      b: [0.5, 0.6],
      expected: 'a',
      why: 'equal mins, mean 0.75 > 0.55',
    },
    {
      name: 'egalitarian',
      a: [0.5, 0.6],
      b: [0.6, 0.5],
      expected: 'tie',
      why: 'equal mins and means',
    },
    { name: 'nash', a: [1, 0], b: [0.4, 0.4], expected: 'b', why: '-3.45 < -0.92' },
    {
      name: 'nash',
      a: [0.5, 0.5],
      b: [0.25, 1],
      expected: 'b',
      why: 'both ln 0.5, mean 0.5 < 0.625',
    },
  ];
  it.each(cases)('$name: $a vs $b -> $expected ($why)', ({ name, a, b, expected }) => {
    const forward = compareWelfare(name, a, b);
    const backward = compareWelfare(name, b, a);
    if (expected === 'tie') {
      expect(forward).toBe(0);
      expect(backward).toBe(0);
    } else {
      expect(Math.sign(forward)).toBe(expected === 'a' ? -1 : 1);
      expect(Math.sign(backward)).toBe(-Math.sign(forward));
    }
  });

  it('sorts candidates best first', () => {
    const vectors = [
      [0.5, 0.6],
      [0.2, 1],
      [0.5, 1],
    ];
    const sorted = [...vectors].sort((a, b) => compareWelfare('egalitarian', a, b));
    expect(sorted).toEqual([
      [0.5, 1],
      [0.5, 0.6],
      [0.2, 1],
    ]);
  });
});

describe('bridging', () => {
  it('is the mean over groups of the log of each group mean', () => {
    // Group 0 means 0.75, group 1 means 0.25: (ln 0.75 + ln 0.25) / 2.
    expect(bridging([1, 0.5, 0.25], [0, 0, 1])).toBeCloseTo(
      (Math.log(0.75) + Math.log(0.25)) / 2,
      12,
    );
  });

  it('ranks the statement both groups accept above one a larger group loves', () => {
    // Four members in group 0, two in group 1.
    const groups = [0, 0, 0, 0, 1, 1];
    const loved = [1, 1, 1, 1, 0, 0]; // mean 0.67
    const shared = [0.6, 0.6, 0.6, 0.6, 0.6, 0.6]; // mean 0.6
    expect(utilitarian(loved)).toBeGreaterThan(utilitarian(shared));
    expect(bridging(shared, groups)).toBeGreaterThan(bridging(loved, groups));
    expect(compareWelfare('bridging', shared, loved, groups, groups)).toBeLessThan(0);
  });

  it('weighs each group once however many members it has', () => {
    // Group 0 has three members at 0.5, group 1 one member at 0.5: the same as one each.
    expect(bridging([0.5, 0.5, 0.5, 0.5], [0, 0, 0, 1])).toBeCloseTo(Math.log(0.5), 12);
  });

  it('treats the room as one group when fewer than two groups are known', () => {
    const u = [1, 0.5, 0];
    expect(bridging(u)).toBeCloseTo(Math.log(0.5), 12);
    expect(bridging(u, [-1, -1, -1])).toBeCloseTo(Math.log(0.5), 12);
    expect(bridging(u, [0, 0, -1])).toBeCloseTo(Math.log(0.5), 12);
    expect(bridgedGroupCount(undefined)).toBe(0);
    expect(bridgedGroupCount([0, 0, -1])).toBe(0);
    expect(bridgedGroupCount([2, 0, -1, 2])).toBe(2);
  });

  it('counts the members in no group as one more group once two groups are known', () => {
    // Groups 0 and 1, and the two unplaced members together: (ln 1 + ln 0.5 + ln 0.25) / 3.
    expect(bridging([1, 0.5, 0.5, 0], [0, 1, -1, -1])).toBeCloseTo(
      (Math.log(0.5) + Math.log(0.25)) / 3,
      12,
    );
  });

  it('weighs a few unplaced members as the few they are, not as a whole group', () => {
    // Two groups of twenty and one newcomer: the pool of one weighs 1/20 of a group.
    const groups = [...Array.from({ length: 40 }, (_, i) => i % 2), -1];
    const pleasesGroups = [...Array.from({ length: 40 }, () => 0.9), 0.05];
    const lukewarm = Array.from({ length: 41 }, () => 0.5);
    const w = 1 / 20;
    expect(bridging(pleasesGroups, groups)).toBeCloseTo(
      (2 * Math.log(0.9) + w * Math.log(0.05)) / (2 + w),
      12,
    );
    expect(bridging(pleasesGroups, groups)).toBeGreaterThan(bridging(lukewarm, groups));
  });

  it('does not let a few placed members outvote a room of newcomers', () => {
    // Two placed members love s1, which the eight newcomers reject; s2 suits everyone.
    const groups = [0, 1, -1, -1, -1, -1, -1, -1, -1, -1];
    const s1 = [1, 1, 0, 0, 0, 0, 0, 0, 0, 0];
    const s2 = Array.from({ length: 10 }, () => 0.9);
    expect(bridging(s2, groups)).toBeGreaterThan(bridging(s1, groups));
  });

  it('floors a group that rejects the statement at NASH_FLOOR', () => {
    expect(bridging([1, 0], [0, 1])).toBeCloseTo(Math.log(NASH_FLOOR) / 2, 12);
  });

  it('refuses groups that do not line up with the approvals', () => {
    expect(() => bridging([1, 0.5], [0])).toThrow(DomainError);
    expect(() => bridging([1, 0.5], [0])).toThrow(/one group per approval/);
  });

  it('is a scalar welfare with the mean as its tie-break', () => {
    expect(isScalarWelfare('bridging')).toBe(true);
    const key = welfareKey('bridging', [1, 0.5], [0, 1]);
    expect(key[0]).toBeCloseTo(Math.log(0.5) / 2, 12);
    expect(key[1]).toBeCloseTo(0.75, 12);
    expect(welfareScore('bridging', [1, 0.5], [0, 1])).toBeCloseTo(Math.log(0.5) / 2, 12);
  });
});
