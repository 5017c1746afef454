import { describe, expect, it } from 'vitest';
import type { ApprovalMatrix } from '../../src/domain/candidate.js';
import { KeySafeIdSchema } from '../../src/domain/scope.js';
import { selectConsensus } from '../../src/domain/selection.js';
import { ExtractiveGenerator } from '../../src/models/offline/extractive-generator.js';
import { LexicalRewardModel } from '../../src/models/offline/lexical-reward-model.js';
import type { ParticipantView } from '../../src/models/ports.js';
import { wordCount } from '../../src/models/text/analyze.js';
import {
  type QuestionRecord,
  SCENARIOS,
  type Scenario,
  scenarioFromQuestion,
} from '../../src/platforms/console/scenarios.js';

const RECORDS: QuestionRecord[] = [
  {
    id: 'q-ai',
    question: 'Should the government help in developing artificial intelligence?',
    affirming_statement: 'The government should help in developing artificial intelligence.',
    negating_statement: 'The government should NOT help in developing artificial intelligence.',
  },
  {
    question: 'Should the UK increase the top rate of tax?',
    affirming_statement: 'The UK should increase the top rate of tax.',
    negating_statement: 'The UK should NOT increase the top rate of tax.',
  },
  {
    question: 'Should local councils invest in public toilets, even if they are rarely used?',
    affirming_statement:
      'Local councils should invest in public toilets, even if they are rarely used.',
    negating_statement: 'Local  councils should NOT invest in public toilets that are rarely used.',
  },
];

function minOf(row: readonly (number | null)[]): number {
  return Math.min(...row.map((u) => u as number));
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** One offline round: k = 8 candidates, lexical predictions, egalitarian pick. */
async function round(scenario: Scenario, seed: number) {
  const participants: ParticipantView[] = scenario.members.map((m) => ({
    id: m.id,
    opinion: m.opinion,
    critique: null,
  }));
  const { candidates } = await new ExtractiveGenerator().generate({
    question: scenario.question,
    participants,
    k: 8,
    seed,
    previous: null,
  });
  const { matrix } = await new LexicalRewardModel().predict({
    question: scenario.question,
    participants,
    candidates,
    seed,
  });
  const selection = selectConsensus(matrix, 'egalitarian', seed);
  const winnerId = selection.ranked[0]!.candidateId;
  const w = matrix.candidates.indexOf(winnerId);
  return { candidates, matrix, winner: candidates[w]!, winnerRow: matrix.approvals[w]! };
}

function opinionMins(matrix: ApprovalMatrix, sources: readonly string[]): number[] {
  return matrix.approvals.filter((_, c) => sources[c] === 'opinion').map(minOf);
}

describe('scenarios', () => {
  it('has at least three groups of six or more members with distinct opinions', () => {
    expect(SCENARIOS.length).toBeGreaterThanOrEqual(3);
    expect(SCENARIOS.map((s) => s.question)).toContain('Should our team adopt a four-day week?');
    expect(new Set(SCENARIOS.map((s) => s.id)).size).toBe(SCENARIOS.length);
    for (const s of SCENARIOS) {
      expect(s.members.length).toBeGreaterThanOrEqual(6);
      expect(new Set(s.members.map((m) => m.id)).size).toBe(s.members.length);
      expect(new Set(s.members.map((m) => m.opinion)).size).toBe(s.members.length);
      for (const m of s.members) {
        expect(KeySafeIdSchema.safeParse(m.id).success).toBe(true);
        expect(m.name.length).toBeGreaterThan(0);
        expect(wordCount(m.opinion)).toBeGreaterThanOrEqual(10);
      }
    }
  });

  it('builds a group for any question bank record, the same for the same seed', () => {
    for (const record of RECORDS) {
      const a = scenarioFromQuestion(record, { seed: 4 });
      expect(a).toEqual(scenarioFromQuestion(record, { seed: 4 }));
      expect(a.question).toBe(record.question);
      expect(a.members).toHaveLength(7);
      expect(new Set(a.members.map((m) => m.id)).size).toBe(7);
      const all = a.members.map((m) => m.opinion).join(' ');
      // Both sides are present, in lower case mid-sentence and without shouting NOT.
      expect(all).not.toMatch(/\bNOT\b/);
      expect(all).not.toMatch(/ {2}/);
      for (const m of a.members) KeySafeIdSchema.parse(m.id);
    }
    expect(scenarioFromQuestion(RECORDS[0]!, { seed: 1 }).id).toBe('q-ai');
    expect(scenarioFromQuestion(RECORDS[1]!, { seed: 1 }).id).toMatch(/^q-[0-9a-z]+$/);
  });

  it('clamps the group size to 6-10 and always includes the core stances', () => {
    expect(scenarioFromQuestion(RECORDS[1]!, { seed: 2, members: 3 }).members).toHaveLength(6);
    expect(scenarioFromQuestion(RECORDS[1]!, { seed: 2, members: 40 }).members).toHaveLength(10);
    const six = scenarioFromQuestion(RECORDS[1]!, { seed: 2, members: 6 });
    const text = six.members.map((m) => m.opinion).join(' ');
    expect(text).toContain('the UK should increase the top rate of tax');
    expect(text).toMatch(/The UK should not increase the top rate of tax/);
  });

  it('varies the group with the seed', () => {
    const groups = [1, 2, 3, 4, 5].map((seed) =>
      JSON.stringify(scenarioFromQuestion(RECORDS[0]!, { seed })),
    );
    expect(new Set(groups).size).toBeGreaterThan(1);
  });
});

describe('offline method quality (extractive generator + lexical reward + egalitarian pick)', () => {
  it.each(SCENARIOS.map((s) => [s.id, s] as const))(
    '%s: a composition wins and serves the worst-off member better than the median opinion',
    async (_id, scenario) => {
      for (const seed of [1, 2, 3]) {
        const { candidates, matrix, winner, winnerRow } = await round(scenario, seed);
        expect(winner.source).toBe('composition');
        expect(wordCount(winner.text)).toBeLessThanOrEqual(120);
        const mins = opinionMins(
          matrix,
          candidates.map((c) => c.source),
        );
        expect(mins.length).toBeGreaterThan(0);
        expect(minOf(winnerRow)).toBeGreaterThan(median(mins));
      }
    },
  );

  it.each(RECORDS.map((r) => [r.question, r] as const))(
    'question bank group %s: the pick beats the median opinion for the worst-off member',
    async (_q, record) => {
      const { candidates, matrix, winnerRow } = await round(
        scenarioFromQuestion(record, { seed: 9, members: 8 }),
        9,
      );
      const mins = opinionMins(
        matrix,
        candidates.map((c) => c.source),
      );
      expect(minOf(winnerRow)).toBeGreaterThan(median(mins));
    },
  );
});
