import { describe, expect, it } from 'vitest';
import { createRng } from '../../../src/domain/random.js';
import { cvRidgeFit, ridgeFit } from '../../../src/models/learned/blend.js';

describe('ridgeFit', () => {
  it('recovers exact weights without a ridge and returns the prior with a huge one', () => {
    const rows = [
      [1, 0],
      [1, 1],
      [1, 2],
      [1, 3],
    ];
    const y = rows.map((x) => 0.5 + 2 * (x[1] as number));
    const free = ridgeFit(rows, y, [0, 0], 0);
    expect(free[0]).toBeCloseTo(0.5, 9);
    expect(free[1]).toBeCloseTo(2, 9);
    const pinned = ridgeFit(rows, y, [0.1, 0.2], 1e12);
    expect(pinned[0]).toBeCloseTo(0.1, 6);
    expect(pinned[1]).toBeCloseTo(0.2, 6);
  });
});

describe('cvRidgeFit', () => {
  it('follows a predictor that generalises', () => {
    const rng = createRng(1);
    const rows = Array.from({ length: 400 }, () => [1, rng.next()]);
    const y = rows.map((x) => 0.2 + 0.6 * (x[1] as number) + 0.05 * (rng.next() - 0.5));
    const w = cvRidgeFit(rows, y, [0, 0], [0.1, 1, 10, 100], createRng(2));
    expect(w[1]).toBeGreaterThan(0.5);
  });

  it('falls back on the mean when neither the prior nor the feature generalises', () => {
    // Rows come in clusters (statements) with their own offset; the feature is one
    // random number per cluster, so across clusters it says nothing, and the prior
    // (the feature itself) is far off.
    const rng = createRng(3);
    const rows: number[][] = [];
    const y: number[] = [];
    const cluster: number[] = [];
    for (let c = 0; c < 30; c++) {
      const offset = 0.2 * (rng.next() - 0.5);
      const feature = rng.next();
      for (let n = 0; n < 40; n++) {
        rows.push([1, feature]);
        y.push(0.3 + offset + 0.1 * (rng.next() - 0.5));
        cluster.push(c);
      }
    }
    const w = cvRidgeFit(rows, y, [0, 1], [1, 10, 100, 1e4, 1e6], createRng(4), cluster);
    const mean = y.reduce((a, b) => a + b, 0) / y.length;
    expect(w[0]).toBeCloseTo(mean, 1);
    expect(Math.abs(w[1] as number)).toBeLessThan(0.1);
  });

  it('keeps the prior when too few clusters (statements) exist to validate across', () => {
    // The same data as above, but only four statements: no fold could hold one out.
    const rows = [
      [1, 0.1],
      [1, 0.9],
      [1, 0.4],
      [1, 0.6],
    ];
    const y = [0.3, 0.3, 0.3, 0.3];
    expect(cvRidgeFit(rows, y, [0, 1], [1, 10], createRng(6), [0, 1, 2, 3])).toEqual([0, 1]);
    // Without clusters the same four rows are validated as votes, and may move.
    expect(cvRidgeFit(rows, y, [0, 1], [1e-6], createRng(6))).not.toEqual([0, 1]);
  });

  it('returns the prior when there are no rows', () => {
    expect(cvRidgeFit([], [], [0.3, 0.7], [1], createRng(5))).toEqual([0.3, 0.7]);
  });
});
