import { describe, expect, it } from 'vitest';
import { COLD_FEATURES, Components } from '../../../src/models/learned/components.js';
import { DEFAULT_CORE_OPTIONS } from '../../../src/models/learned/core.js';
import type { SparseRatings } from '../../../src/models/learned/factorisation.js';
import { TextView } from '../../../src/models/learned/text-similarity.js';

/**
 * Eight members, six statements. Member 0 wrote s0 and s1, which everyone approves, and
 * the unrated s4; member 1 wrote s2 and s3, which everyone rejects, and the unrated s5.
 * Members 2-7 also split on parking: the even ones approve s1 (parking) and reject s0.
 */
function fixture() {
  const texts = [
    'Cycling lanes on the high street',
    'Car parking on the high street',
    'Close the library on Sundays',
    'Raise the council tax',
    'Cycling lanes by the school',
    'Close the pool on Sundays',
  ];
  const member: number[] = [];
  const statement: number[] = [];
  const value: number[] = [];
  for (let u = 0; u < 8; u++) {
    for (let s = 0; s < 4; s++) {
      member.push(u);
      statement.push(s);
      const parking = u >= 2 && u % 2 === 0;
      value.push(s >= 2 ? 0 : s === 1 ? (parking ? 1 : 0.5) : parking ? 0 : 1);
    }
  }
  const ratings: SparseRatings = {
    members: 8,
    statements: 6,
    member: Int32Array.from(member),
    statement: Int32Array.from(statement),
    value: Float64Array.from(value),
  };
  const text = new TextView({
    statementTexts: texts,
    statementAuthors: [0, 0, 1, 1, 0, 1],
    memberTexts: Array.from({ length: 8 }, () => ''),
  });
  return new Components(ratings, text, DEFAULT_CORE_OPTIONS);
}

const feature = (name: (typeof COLD_FEATURES)[number]) => COLD_FEATURES.indexOf(name);

describe('Components cold-start features', () => {
  it("carry the reception of the author's other statements to a new one", () => {
    const components = fixture();
    const index = feature("author's other statements' bias");
    const liked = components.coldFeatures(3, 4)[index]!;
    const disliked = components.coldFeatures(3, 5)[index]!;
    expect(liked).toBeGreaterThan(0);
    expect(disliked).toBeLessThan(0);
  });

  it("give a member's deviation from the room on textually similar statements", () => {
    const components = fixture();
    const index = feature('member deviation on similar statements');
    // s4 (cycling) is like s0: member 3 approved s0 above the room's mean, member 2 below.
    expect(components.coldFeatures(3, 4)[index]!).toBeGreaterThan(0);
    expect(components.coldFeatures(2, 4)[index]!).toBeLessThan(0);
  });
});
