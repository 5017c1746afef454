import { afterEach, describe, expect, it } from 'vitest';
import { LexicalRewardModel } from '../../src/models/offline/lexical-reward-model.js';
import type { GenerateInput, Generator, RewardModel } from '../../src/models/ports.js';
import { runGenerate } from '../../src/pipeline/stages.js';
import {
  CHANNEL,
  type Harness,
  MODERATOR,
  postOpinions,
  SCOPE,
  startHarness,
  startRound,
  until,
} from '../support/harness.js';

/**
 * BullMQ hands a stage job whose lock lapsed (its worker stalled: a blocked event loop, a
 * lost connection) to another worker while the first may still be running. With a model
 * that samples, the two runs write different candidates under the same ids; the later
 * write used to replace the set the next stage had already scored, so the statement posted
 * was not the one whose approvals were predicted and chosen.
 */
describe('a generate job run by two workers at once', () => {
  let h: Harness | null = null;
  afterEach(async () => {
    await h?.stop();
  });

  it('keeps one candidate set: the statement posted is one the reward model scored', async () => {
    let release = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    let calls = 0;
    const generator: Generator = {
      name: 'sampling',
      async generate(input: GenerateInput) {
        const call = ++calls;
        if (call === 1) await held;
        const sample = call === 1 ? 'first sample' : 'second sample';
        return {
          candidates: input.participants.map((p, i) => ({
            id: `c${i + 1}`,
            text: `${p.opinion} (${sample})`,
            source: 'llm' as const,
            explanation: null,
          })),
          usage: { calls: 1, promptTokens: 1, completionTokens: 1 },
          notes: [],
        };
      },
    };
    const scored: string[][] = [];
    const lexical = new LexicalRewardModel();
    const rewardModel: RewardModel = {
      name: lexical.name,
      async predict(input, signal) {
        scored.push(input.candidates.map((c) => c.text));
        const result = await lexical.predict(input, signal);
        // The stalled first run finishes now, between this stage and the next.
        release();
        await until(async () => (await queues().generate.getJobCounts('active')).active === 0);
        return result;
      },
    };
    h = await startHarness({ generator, rewardModel });
    const harness = h;
    const queues = () => harness.runtime.queues;
    const { service, store } = harness.runtime;
    const { log } = harness;
    const { round, thread } = await startRound(harness);
    await postOpinions(harness, thread.messageId);
    await service.close({ scope: SCOPE, channelId: CHANNEL, roundId: round.id }, MODERATOR);
    await until(() => calls === 1);
    // The second worker, given the same job.
    await runGenerate(
      { store, queues: queues(), generator, rewardModel, log, now: Date.now },
      { scope: SCOPE, roundId: round.id, version: 1, attempt: 1 },
    );
    const statement = await harness.platform.waitFor('statement', round.id);
    const poll = await store.polls.poll(SCOPE, round.id, 1);
    expect(scored).toHaveLength(1);
    expect(scored[0]).toContain(poll?.statement);
    expect(statement.text).toContain(poll?.statement.slice(0, 40));
  });
});
