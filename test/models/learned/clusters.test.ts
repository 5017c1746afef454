import { describe, expect, it } from 'vitest';
import { opinionClusters } from '../../../src/models/learned/clusters.js';
import type { SparseRatings } from '../../../src/models/learned/factorisation.js';

/** `camps[u]` is member u's camp; each camp approves its own half of 12 statements. */
function campRatings(camps: readonly number[], skip = (_u: number, _s: number) => false) {
  const member: number[] = [];
  const statement: number[] = [];
  const value: number[] = [];
  camps.forEach((camp, u) => {
    for (let s = 0; s < 12; s++) {
      if (skip(u, s)) continue;
      member.push(u);
      statement.push(s);
      // One statement in six is voted against the camp, so the camps are not perfectly clean.
      const own = (s < 6 ? 0 : 1) === camp;
      value.push((u + s) % 6 === 0 ? (own ? 0 : 1) : own ? 1 : 0);
    }
  });
  const ratings: SparseRatings = {
    members: camps.length,
    statements: 12,
    member: Int32Array.from(member),
    statement: Int32Array.from(statement),
    value: Float64Array.from(value),
  };
  return ratings;
}

describe('opinionClusters', () => {
  it('recovers two camps from the votes alone', () => {
    const camps = Array.from({ length: 24 }, (_, u) => (u < 14 ? 0 : 1));
    const { groups, assignment } = opinionClusters(
      campRatings(camps, (u, s) => (u * 5 + s) % 11 === 0),
    );
    expect(groups).toBe(2);
    const first = assignment[0];
    camps.forEach((camp, u) => {
      expect(assignment[u] === first, `member ${u}`).toBe(camp === 0);
    });
  });

  it('leaves members with too few ratings unclustered', () => {
    const camps = Array.from({ length: 24 }, (_, u) => (u < 12 ? 0 : 1));
    // Member 0 rated only three statements.
    const { assignment } = opinionClusters(campRatings(camps, (u, s) => u === 0 && s > 2));
    expect(assignment[0]).toBe(-1);
    expect(assignment[1]).toBeGreaterThanOrEqual(0);
  });

  it('groups a small round where nobody could rate seven statements (Polis: every statement)', () => {
    // Six statements, twelve members rating all of them: fewer than 7 ratings each.
    const camps = Array.from({ length: 12 }, (_, u) => (u < 6 ? 0 : 1));
    const six = campRatings(camps, (_u, s) => s % 2 === 1);
    const { groups, assignment } = opinionClusters(six);
    expect(groups).toBeGreaterThanOrEqual(2);
    expect(assignment.every((g) => g >= 0)).toBe(true);
    expect(assignment[0]).not.toBe(assignment[11]);
  });

  it('clusters the most active members when too few have seven ratings', () => {
    // Twelve statements; only members 0-3 rated more than five of them.
    const camps = Array.from({ length: 20 }, (_, u) => u % 2);
    const sparse = campRatings(camps, (u, s) => u >= 4 && (u + s) % 12 >= 5);
    const { assignment } = opinionClusters(sparse);
    // Fifteen members are clustered; the five least active (ties by index) are not.
    expect(assignment.filter((g) => g >= 0)).toHaveLength(15);
    expect(assignment[0]).toBeGreaterThanOrEqual(0);
  });

  it('finds no groups in an empty or tiny matrix', () => {
    expect(opinionClusters(campRatings([])).groups).toBe(0);
    expect(opinionClusters(campRatings([0, 1])).groups).toBe(0);
  });
});
