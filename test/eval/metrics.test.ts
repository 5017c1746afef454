import { describe, expect, it } from 'vitest';
import { Fraction } from '../../src/eval/fraction.js';
import { averageRanks, regretAt1, rocAuc, spearman } from '../../src/eval/metrics.js';
import { fnv1a32, isNewComment, isTestVote } from '../../src/eval/split.js';

describe('rocAuc', () => {
  it('counts a tied positive-negative pair as one half', () => {
    // Pairs (positive, negative): 0.4>0.1, 0.4=0.4 (1/2), 0.8>0.1, 0.8>0.4 -> 3.5 / 4.
    expect(rocAuc([0.1, 0.4, 0.4, 0.8], [false, true, false, true])).toBeCloseTo(0.875, 12);
  });

  it('is one half when every score ties, and n/a with one class', () => {
    expect(rocAuc([0.3, 0.3, 0.3], [true, false, true])).toBe(0.5);
    expect(rocAuc([0.1, 0.2], [true, true])).toBeNull();
  });
});

describe('spearman', () => {
  it('uses average ranks for ties', () => {
    // Ranks x = (1, 2.5, 2.5, 4), y = (1, 3, 2, 4): rho = 4.5 / sqrt(4.5 * 5) = 3 / sqrt(10).
    expect(averageRanks([1, 2, 2, 3])).toEqual([1, 2.5, 2.5, 4]);
    expect(spearman([1, 2, 2, 3], [1, 3, 2, 4])).toBeCloseTo(3 / Math.sqrt(10), 12);
  });

  it('ties exact fractions that floating point would split', () => {
    // 1/3 * 3/5 and 1/5 as fractions are equal; their float products need not be.
    const a = Fraction.of(1, 3).times(Fraction.of(3, 5));
    const b = Fraction.of(1, 5);
    expect(averageRanks([a, b, Fraction.of(1, 2)])).toEqual([1.5, 1.5, 3]);
  });

  it('is n/a when one side is constant', () => {
    expect(spearman([1, 1, 1], [1, 2, 3])).toBeNull();
  });

  it('is n/a for no item or one, where no correlation is defined', () => {
    expect(spearman([], [])).toBeNull();
    expect(spearman([0.4], [0.9])).toBeNull();
  });
});

describe('regretAt1', () => {
  it('averages the truth of the comments tied for the top score', () => {
    expect(regretAt1([0.9, 0.9, 0.1], [0.5, 0.7, 0.8])).toBeCloseTo(0.2, 12);
  });
});

describe('split', () => {
  it('is 32-bit FNV-1a over UTF-8 bytes', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
    // Multi-byte characters hash their UTF-8 bytes, not UTF-16 code units.
    expect(fnv1a32('é')).not.toBe(fnv1a32('\u00e9'.normalize('NFD')));
  });

  it('holds out by voter:comment and marks new comments by c:comment', () => {
    expect(isTestVote('1', '2')).toBe(fnv1a32('1:2') % 5 === 0);
    expect(isNewComment('7')).toBe(fnv1a32('c:7') % 5 === 0);
  });
});
