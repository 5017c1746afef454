import { describe, expect, it } from 'vitest';
import { createRng } from '../../../src/domain/random.js';
import { bridging as bridgingWelfare } from '../../../src/domain/welfare.js';
import {
  fitFactorisation,
  predictFactorisation,
} from '../../../src/models/learned/factorisation.js';
import { fitLearnedModel, type LearnedInput } from '../../../src/models/learned/model.js';

/**
 * Two camps: members m0-m9 approve the "cycling" statements and disapprove the "parking"
 * ones; m10-m19 the reverse. s8 (cycling) and s9 (parking) are new: nobody rated them.
 */
function twoCamps(): LearnedInput {
  const texts = [
    'Build protected cycling lanes on every main road',
    'Cycling lanes make streets safer for children',
    'Fund bike sharing and cycling paths downtown',
    'More secure bike parking for cycling commuters',
    'Keep free car parking in the town centre',
    'Car parking fees hurt local shops',
    'Add more car parking spaces near the station',
    'Drivers need affordable parking for their car',
    'Extend the cycling lanes to the suburbs',
    'Build a new car parking garage by the market',
  ];
  const statements = texts.map((text, i) => ({ id: `s${i}`, text, authorId: null }));
  const members = Array.from({ length: 20 }, (_, u) => ({ id: `m${u}`, text: null }));
  const ratings: LearnedInput['ratings'] = [];
  for (let u = 0; u < 20; u++) {
    for (let s = 0; s < 8; s++) {
      const cycling = s < 4;
      const likesCycling = u < 10;
      // Each member skips one statement, so the matrix is not complete.
      if ((u + s) % 7 === 0) continue;
      ratings.push({
        member: `m${u}`,
        statement: `s${s}`,
        approval: cycling === likesCycling ? 1 : 0,
      });
    }
  }
  return { members, statements, ratings };
}

describe('fitLearnedModel', () => {
  it('predicts rated statements per camp', () => {
    const model = fitLearnedModel(twoCamps());
    // Pairs the members skipped, so these are predictions, not their own ratings.
    expect(model.predict('m0', 's0')).toBeGreaterThan(0.7);
    expect(model.predict('m3', 's4')).toBeLessThan(0.3);
    expect(model.predict('m15', 's6')).toBeGreaterThan(0.7);
    expect(model.predict('m17', 's4')).toBeGreaterThan(0.7);
  });

  it('predicts new statements from their text, differently per statement and camp', () => {
    const model = fitLearnedModel(twoCamps());
    expect(model.isRated('s8')).toBe(false);
    expect(model.predict('m0', 's8')).toBeGreaterThan(model.predict('m0', 's9'));
    expect(model.predict('m15', 's9')).toBeGreaterThan(model.predict('m15', 's8'));
  });

  it('gives a member with no ratings a finite approval in [0, 1]', () => {
    const input = twoCamps();
    input.members.push({ id: 'newcomer', text: 'I love cycling lanes' });
    const model = fitLearnedModel(input);
    for (const s of ['s0', 's4', 's8', 's9']) {
      const p = model.predict('newcomer', s);
      expect(Number.isFinite(p)).toBe(true);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThanOrEqual(1);
    }
  });

  it("counts a member's own words towards what they approve", () => {
    // Each camp said what it thinks, so the fit can learn that members approve statements
    // like their own words. Two newcomers with no ratings yet have only their words to go
    // on: the cyclist must lean to the new cycling statement more than the driver does.
    const input = twoCamps();
    input.members = input.members.map((m, u) => ({
      ...m,
      text: u < 10 ? 'Protected cycling lanes and bike paths' : 'Cheap car parking for drivers',
    }));
    input.members.push(
      { id: 'cyclist', text: 'More cycling lanes and bike paths please' },
      { id: 'driver', text: 'Car parking for drivers must stay cheap' },
    );
    const model = fitLearnedModel(input);
    const gap = (m: string) => model.predict(m, 's8') - model.predict(m, 's9');
    expect(gap('cyclist')).toBeGreaterThan(0);
    expect(gap('driver')).toBeLessThan(0);
  });

  it('gives a statement with no text a finite approval in [0, 1]', () => {
    const input = twoCamps();
    input.statements.push({ id: 'blank', text: '', authorId: null });
    const model = fitLearnedModel(input);
    const p = model.predict('m0', 'blank');
    expect(Number.isFinite(p)).toBe(true);
    expect(p).toBeGreaterThanOrEqual(0);
    expect(p).toBeLessThanOrEqual(1);
  });

  it("returns a member's own rating of a statement they rated", () => {
    const input = twoCamps();
    const model = fitLearnedModel(input);
    for (const r of input.ratings.slice(0, 10)) {
      expect(model.predict(r.member, r.statement)).toBe(r.approval);
    }
  });

  it('fits the same model from the same input', () => {
    const a = fitLearnedModel(twoCamps());
    const b = fitLearnedModel(twoCamps());
    for (const s of ['s0', 's4', 's8', 's9']) {
      expect(a.predict('m3', s)).toBe(b.predict('m3', s));
      expect(a.consensus(s)).toBe(b.consensus(s));
    }
  });

  it('fits on a handful of ratings without failing', () => {
    const input = twoCamps();
    input.ratings = input.ratings.slice(0, 3);
    const model = fitLearnedModel(input);
    for (const s of ['s0', 's8']) {
      const p = model.predict('m19', s);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThanOrEqual(1);
      expect(Number.isFinite(model.consensus(s))).toBe(true);
    }
  });

  it('returns the matrix as approvals[statement][member]', () => {
    const model = fitLearnedModel(twoCamps());
    const matrix = model.predictMatrix(['m0', 'm15'], ['s0', 's8', 's9']);
    expect(matrix).toHaveLength(3);
    expect(matrix[0]).toHaveLength(2);
  });

  it('rejects approvals outside [0, 1] and unknown ids', () => {
    const input = twoCamps();
    input.ratings.push({ member: 'm0', statement: 's0', approval: 2 });
    expect(() => fitLearnedModel(input)).toThrow();
    const model = fitLearnedModel(twoCamps());
    expect(() => model.predict('nobody', 's0')).toThrow(/Unknown member id "nobody"/);
  });
});

describe('fitFactorisation', () => {
  it('reaches the closed-form optimum of a single rating', () => {
    // One rating a = 1. At the optimum with error e = 1 - prediction: each bias x has
    // 2e = 2 * 0.15 x, and the factor product grows while 2e > 2 * 0.03, so e = 0.03,
    // mu = b_u = b_c = 0.2 and f_u f_c = 1 - 0.6 - 0.03 = 0.37.
    const model = fitFactorisation({
      members: 1,
      statements: 1,
      member: Int32Array.of(0),
      statement: Int32Array.of(0),
      value: Float64Array.of(1),
    });
    expect(model.mu).toBeCloseTo(0.2, 4);
    expect(model.memberBias[0]).toBeCloseTo(0.2, 4);
    expect(predictFactorisation(model, 0, 0)).toBeCloseTo(0.97, 4);
  });
});

describe('consensus', () => {
  /**
   * A majority camp (m0-m35) and a minority (m36-m59) split on s0-s7 as in twoCamps.
   * s8 is loved by the majority and rejected by the minority (more approvals in total);
   * s9 gets a lukewarm half-approval from both camps: the bridging choice.
   */
  function bridging(): LearnedInput {
    const rng = createRng(7);
    const statements = Array.from({ length: 10 }, (_, i) => ({
      id: `s${i}`,
      text: `statement number ${i}`,
      authorId: null,
    }));
    const members = Array.from({ length: 60 }, (_, u) => ({ id: `m${u}`, text: null }));
    const ratings: LearnedInput['ratings'] = [];
    for (let u = 0; u < 60; u++) {
      const majority = u < 36;
      for (let s = 0; s < 10; s++) {
        if ((u + s) % 9 === 0) continue;
        let approval: number;
        if (s < 8) approval = s < 4 === majority ? 1 : 0;
        else if (s === 8) approval = majority ? 1 : 0;
        else approval = rng.next() < 0.5 ? 1 : 0;
        // Random flips, so that s9's split is not cleaner than the noise around it.
        if (s < 9 && rng.next() < 0.1) approval = 1 - approval;
        ratings.push({ member: `m${u}`, statement: `s${s}`, approval });
      }
    }
    return { members, statements, ratings };
  }

  it('ranks a statement approved across the learned groups above a divisive, more popular one', () => {
    const model = fitLearnedModel(bridging());
    const ids = bridging().members.map((m) => m.id);
    const mean = (s: string) => ids.reduce((t, m) => t + model.predict(m, s), 0) / ids.length;
    expect(mean('s8')).toBeGreaterThan(mean('s9'));
    expect(model.consensus('s9')).toBeGreaterThan(model.consensus('s8'));
  });

  it('is the bridging welfare selection uses, over the groups it hands out', () => {
    const model = fitLearnedModel(bridging());
    const ids = bridging().members.map((m) => m.id);
    const groups = ids.map((m) => model.groupOf(m));
    // The two camps, each of at least five members.
    expect(new Set(groups.filter((g) => g >= 0)).size).toBe(2);
    expect(groups[0]).not.toBe(groups[59]);
    for (const s of ['s0', 's8', 's9']) {
      const approvals = ids.map((m) => model.predict(m, s));
      expect(model.consensus(s)).toBeCloseTo(bridgingWelfare(approvals, groups), 12);
    }
    expect(() => model.groupOf('nobody')).toThrow(/Unknown member/);
  });

  it('scores a statement nobody rated, finitely', () => {
    const input = bridging();
    input.statements.push({ id: 'fresh', text: 'statement number 9 again', authorId: null });
    const model = fitLearnedModel(input);
    expect(Number.isFinite(model.consensus('fresh'))).toBe(true);
  });
});
