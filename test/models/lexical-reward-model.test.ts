import { describe, expect, it } from 'vitest';
import type { Candidate } from '../../src/domain/candidate.js';
import { ApprovalMatrixSchema } from '../../src/domain/candidate.js';
import {
  CALIBRATION,
  calibrate,
  LexicalRewardModel,
} from '../../src/models/offline/lexical-reward-model.js';
import type { ParticipantView } from '../../src/models/ports.js';

const model = new LexicalRewardModel();

function candidate(id: string, text: string): Candidate {
  return { id, text, source: 'opinion', explanation: null };
}

const participants: ParticipantView[] = [
  {
    id: 'ana',
    opinion: 'A four-day week gives people time to recover and helps us hire good engineers.',
    critique: null,
  },
  {
    id: 'ben',
    opinion: 'Customers expect support on Fridays, so the support desk must stay open.',
    critique: null,
  },
  {
    id: 'eva',
    opinion: 'The budget cannot pay contractors to cover the missing day.',
    critique: null,
  },
];

const candidates: Candidate[] = [
  candidate('own-ana', participants[0]!.opinion),
  candidate('own-ben', participants[1]!.opinion),
  candidate('own-eva', participants[2]!.opinion),
  candidate('unrelated', 'Penguins waddle across the frozen Antarctic ice shelf at dawn.'),
];

async function approvals(people: readonly ParticipantView[], cands: readonly Candidate[]) {
  const result = await model.predict({
    question: 'Should our team adopt a four-day week?',
    participants: people,
    candidates: cands,
    seed: 7,
  });
  return result;
}

describe('calibrate', () => {
  it('is 1/2 at the midpoint and rises monotonically', () => {
    expect(calibrate(CALIBRATION.midpoint)).toBeCloseTo(0.5, 12);
    const xs = [-1, -0.5, 0, 0.1, 0.25, 0.45, 0.73, 1];
    const ys = xs.map(calibrate);
    for (let i = 1; i < ys.length; i++) expect(ys[i]!).toBeGreaterThan(ys[i - 1]!);
  });

  it('matches the documented anchors', () => {
    expect(calibrate(0.7 + 0.3 * 0.1)).toBeGreaterThan(0.95); // own words
    expect(calibrate(0.7 * 0.45 + 0.3 * 0.25)).toBeCloseTo(0.73, 2); // one quoted sentence
    expect(calibrate(0)).toBeCloseTo(1 / (1 + Math.exp(1.75)), 12); // unrelated: ~0.148
    expect(calibrate(-0.2)).toBeLessThan(0.05); // contradicted
  });
});

describe('LexicalRewardModel', () => {
  it('returns a valid matrix: one row per candidate, one column per member, in [0, 1]', async () => {
    const result = await approvals(participants, candidates);
    expect(ApprovalMatrixSchema.parse(result.matrix)).toEqual(result.matrix);
    expect(result.matrix.participants).toEqual(['ana', 'ben', 'eva']);
    expect(result.matrix.candidates).toEqual(['own-ana', 'own-ben', 'own-eva', 'unrelated']);
    for (const row of result.matrix.approvals) {
      expect(row).toHaveLength(3);
      for (const u of row) {
        expect(u).not.toBeNull();
        expect(u!).toBeGreaterThan(0);
        expect(u!).toBeLessThan(1);
      }
    }
    expect(result.usage).toEqual({ calls: 0, promptTokens: 0, completionTokens: 0 });
    expect(result.model).toBe('lexical-tfidf');
  });

  it("gives each member's own words their highest approval, above 0.9", async () => {
    const { matrix } = await approvals(participants, candidates);
    for (let p = 0; p < participants.length; p++) {
      const column = matrix.approvals.map((row) => row[p]!);
      expect(column[p]!).toBeGreaterThan(0.9);
      expect(Math.max(...column)).toBe(column[p]);
    }
  });

  it('gives an unrelated statement a low approval from everyone', async () => {
    const { matrix } = await approvals(participants, candidates);
    for (const u of matrix.approvals[3]!) expect(u!).toBeLessThan(0.2);
  });

  it('ranks a statement that negates a member below one that is merely silent', async () => {
    const people: ParticipantView[] = [
      { id: 'pro', opinion: 'We should adopt the four-day week this spring.', critique: null },
    ];
    const { matrix } = await approvals(people, [
      candidate('same', 'We should adopt the four-day week this spring.'),
      candidate('silent', 'The office kitchen needs a new fridge.'),
      candidate('against', 'We should not adopt the four-day week this spring.'),
    ]);
    const [same, silent, against] = matrix.approvals.map((row) => row[0]!);
    expect(same!).toBeGreaterThan(silent!);
    expect(silent!).toBeGreaterThan(against!);
  });

  it("counts a critique: what the member asked for raises that candidate's approval", async () => {
    const statement = candidate(
      'revised',
      'We try a four-day week, and the support desk stays open on Fridays for customers.',
    );
    const plain = await approvals(participants, [statement]);
    const critiqued = participants.map((p) =>
      p.id === 'ana'
        ? { ...p, critique: 'It has to keep the support desk open for customers on Fridays.' }
        : p,
    );
    const withCritique = await approvals(critiqued, [statement]);
    expect(withCritique.matrix.approvals[0]![0]!).toBeGreaterThan(
      plain.matrix.approvals[0]![0]! + 0.1,
    );
  });

  it('predicts from the group alone for a member who wrote nothing with content', async () => {
    const people = [...participants, { id: 'quiet', opinion: 'Yes.', critique: null }];
    const { matrix } = await approvals(people, candidates);
    for (const row of matrix.approvals) expect(row[3]).not.toBeNull();
    // Own words of others are liked by the group more than penguins.
    expect(matrix.approvals[0]![3]!).toBeGreaterThan(matrix.approvals[3]![3]!);
  });

  it('is deterministic', async () => {
    const a = await approvals(participants, candidates);
    const b = await approvals(participants, candidates);
    expect(b).toEqual(a);
  });

  it('handles no candidates and no participants', async () => {
    expect((await approvals(participants, [])).matrix.approvals).toEqual([]);
    expect((await approvals([], candidates)).matrix.approvals).toEqual([[], [], [], []]);
  });

  it('rejects when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      model.predict({ question: 'q', participants, candidates, seed: 1 }, controller.signal),
    ).rejects.toThrow();
  });
});
