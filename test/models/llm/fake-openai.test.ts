import { afterEach, describe, expect, it } from 'vitest';
import { LlmJudgeRewardModel } from '../../../src/models/llm/judge.js';
import { type ChatBody, defaultChat, FakeOpenAI, wordSetsMade } from '../../fakes/openai.js';
import { RecordingLog } from '../../support/harness.js';
import { syntheticOpinions } from './large-groups.js';
import { candidate, clientFor, MEMBERS, QUESTION } from './support.js';

const CANDIDATES = [
  candidate('c1', 'We care about burnout, rest and health above all.'),
  candidate('c2', 'Customers need support coverage on friday with a rota.'),
  candidate('c3', 'Run a pilot for some months and review the data.'),
];

/**
 * The fake's default answers are what `npm run fake:openai` (and the demo against it)
 * serves, so they must answer every prompt the bot sends.
 */
describe("the fake OpenAI server's default answers", () => {
  let fake: FakeOpenAI | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  it('rate batches of members, as the judge sends once a round has more members than LLM_CONCURRENCY', async () => {
    fake = await FakeOpenAI.start();
    // Five members and two places: batches of three and two.
    const { client } = clientFor(fake, { concurrency: 2, maxRetries: 0 });
    const log = new RecordingLog();
    const model = new LlmJudgeRewardModel({ client, model: 'judge', batchSize: 12, log });
    const result = await model.predict({
      question: QUESTION,
      participants: MEMBERS,
      candidates: CANDIDATES,
      seed: 1,
    });
    expect(fake.chatBodies('approval_ratings_batch')).toHaveLength(2);
    for (const row of result.matrix.approvals) {
      expect(row.every((v) => v !== null && v >= 0 && v <= 1)).toBe(true);
    }
    expect(log.lines.filter((l) => l.level === 'warn')).toEqual([]);
  });

  it("work out each statement's words once, not once per member", async () => {
    fake = await FakeOpenAI.start();
    const { client } = clientFor(fake, { concurrency: 1, maxRetries: 0 });
    const model = new LlmJudgeRewardModel({
      client,
      model: 'judge',
      batchSize: 12,
      log: new RecordingLog(),
    });
    // One batch of 12 members: the request is answered below, by hand.
    fake.onChat = () => ({ kind: 'chat', content: '{"ratings": {}}' });
    await model.predict({
      question: QUESTION,
      participants: syntheticOpinions(12),
      candidates: CANDIDATES,
      seed: 1,
    });
    const [batch] = fake.chatBodies('approval_ratings_batch') as [ChatBody];
    const before = wordSetsMade.count;
    defaultChat(batch);
    // At most 12 members and 3 statements, rather than 12 x (1 + 3)...
    expect(wordSetsMade.count - before).toBeLessThanOrEqual(12 + 3);
    // ...and the round's next request, showing the same statements, only its members.
    const again = wordSetsMade.count;
    defaultChat(batch);
    expect(wordSetsMade.count - again).toBe(12);
  });
});
