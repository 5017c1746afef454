import { afterEach, describe, expect, it } from 'vitest';
import { isSummaryNote } from '../../src/deliberation/service.js';
import { LIMITS } from '../../src/domain/limits.js';
import { summaryNote } from '../../src/models/llm/large-group.js';
import { ExtractiveGenerator } from '../../src/models/offline/extractive-generator.js';
import type { GenerateInput, GenerateResult, Generator } from '../../src/models/ports.js';
import {
  CHANNEL,
  type Harness,
  MODERATOR,
  OPINIONS,
  SCOPE,
  startHarness,
  startRound,
} from '../support/harness.js';

/** The offline generator, with the note the LLM generator adds when it works from summaries. */
class SummarisingGenerator implements Generator {
  readonly name = 'summarising';
  private readonly inner = new ExtractiveGenerator();
  async generate(input: GenerateInput): Promise<GenerateResult> {
    const result = await this.inner.generate(input);
    return { ...result, notes: [...result.notes, 'made from summaries: a test note'] };
  }
}

async function closedRound(h: Harness, opinions: Record<string, string>) {
  const { service } = h.runtime;
  const { round, thread } = await startRound(h);
  let at = 1;
  for (const [id, text] of Object.entries(opinions)) {
    await service.reply({
      scope: SCOPE,
      channelId: CHANNEL,
      threadRootId: thread.messageId,
      messageId: `o-${id}`,
      userId: id,
      text,
      at: at++,
    });
  }
  const target = { scope: SCOPE, channelId: CHANNEL, roundId: round.id };
  await service.close(target, MODERATOR);
  await h.platform.waitFor('statement', round.id);
  return { round, target };
}

describe('the exclusion check in the results', () => {
  let h: Harness;
  afterEach(async () => {
    await h.stop();
  });

  it('says every opinion reached the writer whole, and whom the statement is predicted to serve worst', async () => {
    h = await startHarness();
    const { round, target } = await closedRound(h, OPINIONS);
    const results = await h.runtime.service.finish(target, MODERATOR);
    expect(results.exclusion).toEqual({ truncated: [], summarisedVersions: [] });
    const poll = await h.runtime.store.polls.poll(SCOPE, round.id, 1);
    const predicted = Object.values(poll?.predicted ?? {}).filter((u) => u !== null);
    expect(results.versions[0]?.results.predictedLeastServed?.approval).toBe(
      Math.min(...predicted),
    );
    const posted = await h.platform.waitFor('results', round.id);
    expect(posted.text).toContain(
      'exclusion check: every opinion reached the statement writer in full',
    );
    expect(posted.text).toContain('predicted to serve worst:');
  });

  it('names the member whose opinion was cut, and the version written from summaries', async () => {
    h = await startHarness({ generator: new SummarisingGenerator() });
    const long = `${OPINIONS.ben} ${'Friday support matters. '.repeat(LIMITS.opinionMaxChars / 20)}`;
    const { round, target } = await closedRound(h, { ...OPINIONS, ben: long });
    const results = await h.runtime.service.finish(target, MODERATOR);
    expect(results.exclusion).toEqual({ truncated: ['ben'], summarisedVersions: [1] });
    const posted = await h.platform.waitFor('results', round.id);
    expect(posted.text).toContain(
      'exclusion check: cut to the length limit: ben; written from summaries: version 1',
    );
  });
});

describe('summary notes', () => {
  it("recognises the LLM generator's summary note", () => {
    const plan = {
      kind: 'summaries',
      estimate: 100,
      verbatimEstimate: 1_000,
      opinions: { summaries: [{ size: 3 }, { size: 2 }], shape: { quotes: 2 } },
      critiques: null,
      basis: 'embeddings',
      usage: { calls: 0, promptTokens: 0, completionTokens: 0 },
    } as unknown as Parameters<typeof summaryNote>[0];
    expect(isSummaryNote(summaryNote(plan, 500))).toBe(true);
    expect(isSummaryNote('2 samples repeated another word for word')).toBe(false);
  });

  it('counts in words that agree: one cluster, and no quotes where none fit', () => {
    const plan = {
      kind: 'summaries',
      estimate: 100,
      verbatimEstimate: 1_000,
      opinions: { summaries: [{ size: 40 }], shape: { quotes: 0 } },
      critiques: { summaries: [{ size: 3 }], shape: { quotes: 1 } },
      basis: 'word vectors',
      usage: { calls: 0, promptTokens: 0, completionTokens: 0 },
    } as unknown as Parameters<typeof summaryNote>[0];
    const note = summaryNote(plan, 500);
    expect(note).toContain('into 1 cluster of similar opinions (sizes 40;');
    expect(note).toContain(
      'each given to the model with its size; the 3 critiques likewise in 1 cluster',
    );
    expect(note).not.toMatch(/up to 0|1 clusters/);
    plan.opinions.shape.quotes = 1;
    expect(summaryNote(plan, 500)).toContain('with its size and up to 1 verbatim quote;');
  });
});
