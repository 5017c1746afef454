import { afterEach, describe, expect, it } from 'vitest';
import { ExtractiveGenerator } from '../../src/models/offline/extractive-generator.js';
import type { GenerateInput, GenerateResult, Generator } from '../../src/models/ports.js';
import {
  CHANNEL,
  type Harness,
  MODERATOR,
  OPINIONS,
  postOpinions,
  SCOPE,
  startHarness,
  startRound,
} from '../support/harness.js';

/** Fails its first call, as a model server that timed out would. */
class FailsOnce implements Generator {
  readonly name = 'fails-once';
  private failed = false;
  private readonly inner = new ExtractiveGenerator();
  async generate(input: GenerateInput): Promise<GenerateResult> {
    if (!this.failed) {
      this.failed = true;
      throw new Error('model server timed out');
    }
    return this.inner.generate(input);
  }
}

describe('pipeline job logs', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('log each finished job at debug, and each failure, with round, workspace, stage and duration, and no text', async () => {
    h = await startHarness({ generator: new FailsOnce(), attempts: 3 });
    const question = 'Should our team adopt a four-day week?';
    const { round, thread } = await startRound(h, question);
    await postOpinions(h, thread.messageId);
    await h.runtime.service.close({ scope: SCOPE, channelId: CHANNEL }, MODERATOR);
    await h.platform.waitFor('statement', round.id);

    const ids = { roundId: round.id, scope: SCOPE, version: 1 };
    const finished = h.log.lines.filter((l) => l.message === 'job finished');
    for (const stage of ['generate', 'score', 'select']) {
      const lines = finished.filter((l) => (l.fields as { stage?: string }).stage === stage);
      expect(lines, stage).toHaveLength(1);
      expect(lines[0]?.level).toBe('debug');
      expect(lines[0]?.fields).toMatchObject({
        ...ids,
        jobId: expect.stringContaining(round.id),
        durationMs: expect.any(Number),
      });
    }
    // The publisher's jobs (question, progress, statement) are followed the same way.
    expect(
      finished.filter((l) => (l.fields as { stage?: string }).stage === 'publish').length,
    ).toBeGreaterThanOrEqual(3);

    const failed = h.log.lines.filter((l) => l.message === 'job failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]?.fields).toMatchObject({
      ...ids,
      stage: 'generate',
      attempt: 1,
      final: false,
      err: 'model server timed out',
      durationMs: expect.any(Number),
    });

    // Ids and numbers only: no member's words, nor the question, reach the log.
    const logged = JSON.stringify(h.log.lines);
    for (const text of [question, ...Object.values(OPINIONS)]) {
      expect(logged).not.toContain(text.slice(0, 30));
    }
  });
});
