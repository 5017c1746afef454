import { afterEach, describe, expect, it } from 'vitest';
import { LlmJudgeRewardModel, memberBatches } from '../../../src/models/llm/judge.js';
import { FakeOpenAI } from '../../fakes/openai.js';
import { RecordingLog } from '../../support/harness.js';
import { largeGroupChat, syntheticOpinions } from './large-groups.js';
import { candidate, clientFor, MemoryLedger, QUESTION } from './support.js';

const CANDIDATES = [
  candidate('c1', 'We care about burnout, rest and health above all.'),
  candidate('c2', 'Customers need support coverage on friday with a rota.'),
  candidate('c3', 'Run a pilot for some months and review the data.'),
];

describe('memberBatches', () => {
  it('cuts members into consecutive batches, the last one shorter', () => {
    expect(memberBatches(5, 2)).toEqual([[0, 1], [2, 3], [4]]);
    expect(memberBatches(3, 1)).toEqual([[0], [1], [2]]);
  });
});

describe('the judge in batches of members (LLM_JUDGE_BATCH)', () => {
  let fake: FakeOpenAI | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  async function judge(batchSize: number, maxRetries = 1) {
    fake = await FakeOpenAI.start();
    fake.onChat = largeGroupChat;
    const { client } = clientFor(fake, { concurrency: 8, maxRetries });
    return new LlmJudgeRewardModel({ client, model: 'judge', batchSize, log: new RecordingLog() });
  }

  it('judges one member per call while the members fit in one wave (the concurrency, 8)', async () => {
    const model = await judge(12);
    // Past one wave of batches of 12 (96 members), batches are as small as the waves allow.
    expect([8, 9, 16, 17, 96, 97, 1_000].map((n) => model.batchSizeFor(n))).toEqual([
      1, 2, 2, 3, 12, 7, 12,
    ]);
    const participants = syntheticOpinions(8);
    await model.predict({ question: QUESTION, participants, candidates: CANDIDATES, seed: 1 });
    expect(fake?.chatBodies('approval_ratings')).toHaveLength(8);
    expect(fake?.chatBodies('approval_ratings_batch')).toHaveLength(0);
  });

  it('rates 250 members in 3 waves of 8 calls, batches of 11: 23 calls, every member predicted', async () => {
    const model = await judge(12);
    const participants = syntheticOpinions(250);
    const ledger = new MemoryLedger();
    const result = await model.predict({
      question: QUESTION,
      participants,
      candidates: CANDIDATES,
      seed: 1,
      ledger,
    });
    expect(fake?.chatBodies('approval_ratings_batch')).toHaveLength(23);
    expect(ledger.spent.calls).toBe(23);
    expect(result.usage.calls).toBe(23);
    for (const row of result.matrix.approvals) {
      expect(row.every((v) => v !== null && v >= 0 && v <= 1)).toBe(true);
    }
    // A burnout member prefers the burnout statement (themes rotate with the member index).
    expect(result.matrix.approvals[0]?.[0]).toBeGreaterThan(result.matrix.approvals[1]?.[0] ?? 1);
  });

  it('a batch whose call fails leaves only its own members unpredicted', async () => {
    const model = await judge(50, 0);
    fake?.script('approval_ratings_batch', { kind: 'chat', content: 'not json' });
    const participants = syntheticOpinions(150);
    const result = await model.predict({
      question: QUESTION,
      participants,
      candidates: CANDIDATES,
      seed: 1,
    });
    const predicted = result.matrix.participants.filter(
      (_, p) => result.matrix.approvals[0]?.[p] !== null,
    );
    // 150 members, 8 in flight: batches of ceil(150 / 8) = 19 (the last of 17); one lost.
    expect([19, 17]).toContain(150 - predicted.length);
  });
});
