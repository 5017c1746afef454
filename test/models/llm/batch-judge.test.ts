import { afterEach, describe, expect, it } from 'vitest';
import { LlmJudgeRewardModel, memberBatches } from '../../../src/models/llm/judge.js';
import {
  batchJudgeReply,
  type ChatBody,
  chatJson,
  FakeOpenAI,
  type FakeReply,
} from '../../fakes/openai.js';
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

  it('also cuts where the next member would pass the room, a member too long alone', () => {
    const cost = (i: number) => [3, 3, 5, 12, 1, 1][i] ?? 0;
    expect(memberBatches(6, 4, { cost, room: 8 })).toEqual([[0, 1], [2], [3], [4, 5]]);
    expect(memberBatches(6, 2, { cost, room: 100 })).toEqual([
      [0, 1],
      [2, 3],
      [4, 5],
    ]);
  });
});

describe('the judge in batches of members (LLM_JUDGE_BATCH)', () => {
  let fake: FakeOpenAI | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  async function judge(batchSize: number, maxRetries = 1, promptBudgetTokens?: number) {
    fake = await FakeOpenAI.start();
    fake.onChat = largeGroupChat;
    const { client } = clientFor(fake, { concurrency: 8, maxRetries });
    return new LlmJudgeRewardModel({
      client,
      model: 'judge',
      batchSize,
      promptBudgetTokens,
      log: new RecordingLog(),
    });
  }

  it('keeps every batch prompt within LLM_PROMPT_BUDGET_TOKENS when opinions are long', async () => {
    const budget = 3_000;
    const model = await judge(12, 1, budget);
    // 250 members in batches of 11; one in five wrote the most a reply may hold.
    const participants = syntheticOpinions(250).map((p, i) =>
      i % 5 === 0 ? { ...p, opinion: `${p.opinion} ${'and more on that. '.repeat(220)}` } : p,
    );
    const result = await model.predict({
      question: QUESTION,
      participants,
      candidates: CANDIDATES,
      seed: 1,
    });
    const bodies = fake?.chatBodies('approval_ratings_batch') ?? [];
    const prompts = bodies.map((b) =>
      b.messages.reduce((n, m) => n + String(m.content ?? '').length, 0),
    );
    // Estimated as the client does, 3 characters a token.
    expect(Math.max(...prompts.map((c) => Math.ceil(c / 3)))).toBeLessThanOrEqual(budget);
    // More calls than batches of 11 would make (23), and nobody left out or asked twice.
    expect(bodies.length).toBeGreaterThan(23);
    // Each member in exactly one call: the batches' member keys and the single calls add up.
    const keysOf = (b: ChatBody) => {
      const schema = b.response_format?.json_schema?.schema as {
        properties: { ratings: { properties: object } };
      };
      return Object.keys(schema.properties.ratings.properties).length;
    };
    const singles = fake?.chatBodies('approval_ratings').length ?? 0;
    expect(bodies.reduce((n, b) => n + keysOf(b), 0) + singles).toBe(250);
    for (const row of result.matrix.approvals) expect(row.every((v) => v !== null)).toBe(true);
  });

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

  it('retries a batch answer with a rating of 8 on the 7-point scale, never an approval over 1', async () => {
    const model = await judge(12);
    const server = fake as FakeOpenAI;
    // The first batch's answer rates its last member's letter A 8; the rest are as usual.
    let first = true;
    server.onChat = (body: ChatBody): FakeReply => {
      const reply = batchJudgeReply(body);
      if (!first || reply.kind !== 'chat') return reply;
      first = false;
      const { ratings } = JSON.parse(reply.content) as {
        ratings: Record<string, Record<string, number>>;
      };
      const last = Object.keys(ratings).at(-1) as string;
      return chatJson({ ratings: { ...ratings, [last]: { ...ratings[last], A: 8 } } });
    };
    // 16 members, 8 in flight: 8 calls of 2 members, and the bad one once more.
    const participants = syntheticOpinions(16);
    const result = await model.predict({
      question: QUESTION,
      participants,
      candidates: CANDIDATES,
      seed: 1,
    });
    const approvals = result.matrix.approvals.flat();
    expect(approvals.every((v) => v !== null && v >= 0)).toBe(true);
    expect(Math.max(...(approvals as number[]))).toBeLessThanOrEqual(1);
    expect(server.chatBodies('approval_ratings_batch')).toHaveLength(9);
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
