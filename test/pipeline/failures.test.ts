import { afterEach, describe, expect, it } from 'vitest';
import type { RoundSettings } from '../../src/domain/round.js';
import { scopeKey } from '../../src/domain/scope.js';
import { ExtractiveGenerator } from '../../src/models/offline/extractive-generator.js';
import type { GenerateInput, GenerateResult, Generator } from '../../src/models/ports.js';
import { jobId } from '../../src/pipeline/payloads.js';
import { failRun, runGenerate, type StageDeps } from '../../src/pipeline/stages.js';
import {
  CHANNEL,
  type Harness,
  MODERATOR,
  OPINIONS,
  publishAtRest,
  replier,
  SCOPE,
  startHarness,
  startRound,
  until,
} from '../support/harness.js';

/** A generator that fails its first `failures` calls, then delegates. */
class FlakyGenerator implements Generator {
  readonly name = 'flaky';
  calls = 0;
  /** The seed of each call, in order. */
  readonly seeds: number[] = [];
  private readonly inner = new ExtractiveGenerator();
  constructor(private failures: number) {}
  async generate(input: GenerateInput): Promise<GenerateResult> {
    this.calls++;
    this.seeds.push(input.seed);
    if (this.failures > 0) {
      this.failures--;
      throw new Error('model server timed out');
    }
    return this.inner.generate(input);
  }
}

/** A generator that hangs until `release()`, then fails as a model server that timed out. */
function stuckGenerator(): { generator: Generator; release: () => void } {
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const generator: Generator = {
    name: 'stuck',
    async generate(): Promise<GenerateResult> {
      await gate;
      throw new Error('model server timed out');
    },
  };
  return { generator, release };
}

describe('pipeline failures', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  async function roundWithOpinions(
    harness: Harness,
    settings: Partial<RoundSettings> = {},
    opinions: Record<string, string> = OPINIONS,
  ) {
    const { round, thread } = await startRound(
      harness,
      'Should our team adopt a four-day week?',
      settings,
    );
    let at = 1;
    for (const [id, text] of Object.entries(opinions)) {
      await harness.runtime.service.reply({
        scope: SCOPE,
        channelId: CHANNEL,
        threadRootId: thread.messageId,
        messageId: id,
        userId: id,
        text,
        at: at++,
      });
    }
    return round;
  }

  it('retries a failed stage with backoff and still publishes exactly one statement', async () => {
    const generator = new FlakyGenerator(1);
    h = await startHarness({ generator, attempts: 3 });
    const round = await roundWithOpinions(h);
    await h.runtime.service.close({ scope: SCOPE, channelId: CHANNEL }, MODERATOR);
    await h.platform.waitFor('statement', round.id);
    expect(generator.calls).toBe(2);
    expect(h.platform.posted.filter((m) => m.kind === 'statement')).toHaveLength(1);
  });

  it('posts the statement once when a select dies after opening the poll and before queuing it', async () => {
    // The select moves the round to polling first and queues the statement after: its
    // retry finds the round polling at its own version and attempt, and must still post.
    h = await startHarness({ attempts: 3 });
    const { queues, store } = h.runtime;
    const enqueue = queues.enqueuePublish.bind(queues);
    let refused = 0;
    queues.enqueuePublish = async (job, once) => {
      if (job.kind === 'statement' && refused === 0) {
        refused++;
        throw new Error('Redis refused the statement');
      }
      return enqueue(job, once);
    };
    const round = await roundWithOpinions(h);
    await h.runtime.service.close({ scope: SCOPE, channelId: CHANNEL }, MODERATOR);
    // The select's retry has run to its end, and whatever it queued has gone out.
    await until(async () => (await queues.select.getJobCounts('completed')).completed === 1);
    await publishAtRest(h);
    expect(refused).toBe(1);
    expect(h.platform.posted.filter((m) => m.kind === 'statement')).toHaveLength(1);
    expect(await store.rounds.require(SCOPE, round.id)).toMatchObject({
      phase: 'polling',
      version: 1,
      attempt: 1,
    });
  });

  it('marks the round failed after the last attempt, says so in the channel, and a close retries it', async () => {
    const generator = new FlakyGenerator(2);
    h = await startHarness({ generator, attempts: 2 });
    const round = await roundWithOpinions(h);
    await h.runtime.service.close({ scope: SCOPE, channelId: CHANNEL }, MODERATOR);
    const notice = await h.platform.waitFor('notice', round.id);
    expect(notice.text).toMatch(/could not be produced: model server timed out.*retry/);
    const failed = await h.runtime.store.rounds.require(SCOPE, round.id);
    expect(failed.phase).toBe('failed');
    expect(failed.failureReason).toBe('model server timed out');

    await h.runtime.service.close(
      { scope: SCOPE, channelId: CHANNEL, roundId: round.id },
      MODERATOR,
    );
    await h.platform.waitFor('statement', round.id);
    const done = await h.runtime.store.rounds.require(SCOPE, round.id);
    expect(done).toMatchObject({ phase: 'polling', attempt: 2, failureReason: null });
    // BullMQ's re-delivery of attempt 1 repeats its seed; the moderator's retry (attempt 2)
    // samples afresh, or a deterministic model would reproduce what failed.
    const [first, redelivered, retried] = generator.seeds;
    expect(generator.seeds).toHaveLength(3);
    expect(redelivered).toBe(first);
    expect(retried).not.toBe(first);
  });

  it('shows no member id in the failure of an anonymous round', async () => {
    class NamingGenerator implements Generator {
      readonly name = 'naming';
      async generate(): Promise<GenerateResult> {
        throw new Error('the model refused the opinion of ben and of mod');
      }
    }
    h = await startHarness({ generator: new NamingGenerator(), attempts: 1 });
    const round = await roundWithOpinions(h, { anonymous: true });
    await h.runtime.service.close({ scope: SCOPE, channelId: CHANNEL }, MODERATOR);
    const notice = await h.platform.waitFor('notice', round.id);
    expect(notice.text).toContain('the model refused the opinion of a member and of a member');
    const failed = await h.runtime.store.rounds.require(SCOPE, round.id);
    expect(failed.failureReason).toBe('the model refused the opinion of a member and of a member');
  });

  it("shows no id of a member who only critiqued in an anonymous round's failed revision", async () => {
    // Zed gave no opinion, only a critique of version 1: their id is one of the round's
    // members all the same, and the revision's failure must not show it.
    class RevisionNamesCritic implements Generator {
      readonly name = 'revision-names-critic';
      private readonly inner = new ExtractiveGenerator();
      async generate(input: GenerateInput): Promise<GenerateResult> {
        if (input.previous !== null) throw new Error('the model refused the critique of zed');
        return this.inner.generate(input);
      }
    }
    h = await startHarness({ generator: new RevisionNamesCritic(), attempts: 1 });
    const round = await roundWithOpinions(h, { anonymous: true });
    const target = { scope: SCOPE, channelId: CHANNEL, roundId: round.id };
    await h.runtime.service.close(target, MODERATOR);
    await h.platform.waitFor('statement', round.id);
    await h.runtime.service.critique(target, MODERATOR);
    const { questionRef } = await h.runtime.store.rounds.require(SCOPE, round.id);
    const critique = await replier(h, questionRef?.messageId ?? '')(
      'c-zed',
      'zed',
      'It says nothing about support hours.',
      50,
    );
    expect(critique).toMatchObject({ status: 'recorded', kind: 'critique' });
    await h.runtime.service.close(target, MODERATOR);
    const notice = await h.platform.waitFor('notice', round.id);
    expect(notice.text).toContain('the model refused the critique of a member');
    expect(notice.text).not.toMatch(/zed/);
    const failed = await h.runtime.store.rounds.require(SCOPE, round.id);
    expect(failed).toMatchObject({ phase: 'failed', version: 1 });
    expect(failed.failureReason).toBe('the model refused the critique of a member');
  });

  it('replaces member ids before it cuts a long failure reason, so no part of an id is left', async () => {
    // Padded so that the cut at 600 characters falls inside "ben_with_a_long_id".
    const padding = 'x'.repeat(590);
    class LongGenerator implements Generator {
      readonly name = 'long';
      async generate(): Promise<GenerateResult> {
        throw new Error(`${padding} ben_with_a_long_id failed and more text after it`);
      }
    }
    h = await startHarness({ generator: new LongGenerator(), attempts: 1 });
    const round = await roundWithOpinions(
      h,
      { anonymous: true },
      { ana: 'Yes, a four-day week.', ben_with_a_long_id: 'No, five days.' },
    );
    await h.runtime.service.close({ scope: SCOPE, channelId: CHANNEL }, MODERATOR);
    const notice = await h.platform.waitFor('notice', round.id);
    expect(notice.text).not.toMatch(/ben_/);
    const failed = await h.runtime.store.rounds.require(SCOPE, round.id);
    expect(failed.failureReason?.length).toBeLessThanOrEqual(600);
    expect(failed.failureReason).not.toMatch(/ben_/);
    expect(failed.failureReason).toMatch(/a member/);
  });

  it('fails a job whose payload breaks its schema at once, without retry, and logs why', async () => {
    h = await startHarness({ attempts: 5 });
    const job = await h.runtime.queues.generate.add(
      'generate',
      { scope: SCOPE, roundId: 'has:colon', version: 0 },
      { attempts: 5 },
    );
    const harness = h;
    await until(async () => (await job.getState()) === 'failed');
    const failed = await harness.runtime.queues.generate.getJob(job.id!);
    expect(failed?.attemptsMade).toBe(1);
    expect(failed?.failedReason).toMatch(/invalid generate job payload/);
    const logged = harness.log.lines.find((l) => l.message === 'job rejected without retry');
    expect(JSON.stringify(logged?.fields)).toMatch(/roundId/);
    expect(JSON.stringify(logged?.fields)).toMatch(/version/);
  });

  it('fails a stage whose round is gone at once (a Redis that came back empty), without spending its attempts', async () => {
    h = await startHarness({ attempts: 5 });
    const job = await h.runtime.queues.generate.add(
      'generate',
      { scope: SCOPE, roundId: 'rgone', version: 1, attempt: 1 },
      { attempts: 5, backoff: { type: 'fixed', delay: 60_000 } },
    );
    const harness = h;
    await until(async () => (await job.getState()) === 'failed');
    const failed = await harness.runtime.queues.generate.getJob(job.id!);
    expect(failed?.attemptsMade).toBe(1);
    expect(failed?.failedReason).toMatch(/No round "rgone"/);
  });

  it('makes a re-enqueued stage harmless: the same job id is added once', async () => {
    h = await startHarness();
    const job = { scope: SCOPE, roundId: 'rdup', version: 1, attempt: 1 };
    await h.runtime.queues.enqueueStage('score', job);
    await h.runtime.queues.enqueueStage('score', job);
    const counts = await h.runtime.queues.score.getJobCounts(
      'waiting',
      'active',
      'delayed',
      'prioritized',
      'completed',
      'failed',
    );
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('leaves a cancelled round alone when its stages run later', async () => {
    h = await startHarness();
    const round = await roundWithOpinions(h);
    await h.runtime.service.close({ scope: SCOPE, channelId: CHANNEL }, MODERATOR);
    await h.runtime.service.cancel(
      { scope: SCOPE, channelId: CHANNEL, roundId: round.id },
      MODERATOR,
    );
    await h.platform.waitFor('notice', round.id);
    const harness = h;
    // Wait until every stage queue is idle: whatever was in flight has run and stopped.
    await until(async () => {
      for (const q of [
        harness.runtime.queues.generate,
        harness.runtime.queues.score,
        harness.runtime.queues.select,
      ]) {
        const c = await q.getJobCounts('waiting', 'active', 'delayed');
        if ((c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) > 0) return false;
      }
      return true;
    });
    expect((await h.runtime.store.rounds.require(SCOPE, round.id)).phase).toBe('cancelled');
    expect(h.platform.posted.filter((m) => m.kind === 'statement')).toHaveLength(0);
  });

  it('fails a run at once, saying why, when the generator returns no candidate', async () => {
    class EmptyGenerator implements Generator {
      readonly name = 'empty';
      calls = 0;
      async generate(): Promise<GenerateResult> {
        this.calls++;
        return {
          candidates: [],
          usage: { calls: 0, promptTokens: 0, completionTokens: 0 },
          notes: [],
        };
      }
    }
    const generator = new EmptyGenerator();
    h = await startHarness({ generator, attempts: 3 });
    const round = await roundWithOpinions(h);
    await h.runtime.service.close({ scope: SCOPE, channelId: CHANNEL }, MODERATOR);
    const notice = await h.platform.waitFor('notice', round.id);
    expect(notice.text).toContain(
      'The statement could not be produced: the generator returned no candidate statement. A moderator can retry with `close`.',
    );
    // Nothing to retry with: the same opinions would give nothing again.
    expect(generator.calls).toBe(1);
    expect((await h.runtime.store.rounds.require(SCOPE, round.id)).phase).toBe('failed');
  });

  it('says nothing of a run that failed for good after its round was cancelled', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    class SlowFailingGenerator implements Generator {
      readonly name = 'slow-failing';
      async generate(): Promise<GenerateResult> {
        await gate;
        throw new Error('model server timed out');
      }
    }
    h = await startHarness({ generator: new SlowFailingGenerator(), attempts: 1 });
    const round = await roundWithOpinions(h);
    await h.runtime.service.close({ scope: SCOPE, channelId: CHANNEL }, MODERATOR);
    const target = { scope: SCOPE, channelId: CHANNEL, roundId: round.id };
    await h.runtime.service.cancel(target, MODERATOR);
    await h.platform.waitFor('notice', round.id);
    release();
    const harness = h;
    await until(
      async () =>
        (await harness.runtime.queues.generate.getJobCounts('failed')).failed === 1 || null,
    );
    await until(async () => {
      const c = await harness.runtime.queues
        .publishQueue(SCOPE)
        .getJobCounts('waiting', 'active', 'delayed');
      return (c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) === 0 || null;
    });
    expect(h.platform.posted.filter((m) => /could not be produced/.test(m.text))).toEqual([]);
    expect((await h.runtime.store.rounds.require(SCOPE, round.id)).phase).toBe('cancelled');
  });

  it('lets a stale run of an earlier attempt do nothing to the round retried at a later one', async () => {
    // Attempt 1's generate hangs (a zombie worker whose lock lapsed) while the round is
    // retried at attempt 2: a late run or failure of attempt 1 must count as moved on.
    const { generator: stuck, release } = stuckGenerator();
    h = await startHarness({ generator: stuck, attempts: 1 });
    const { store, queues, service } = h.runtime;
    const round = await roundWithOpinions(h);
    await service.close({ scope: SCOPE, channelId: CHANNEL }, MODERATOR);
    await store.rounds.update(SCOPE, round.id, (r) => ({ ...r, attempt: 2 }));
    // A working generator for the stale run; generate and failRun use no reward model.
    const deps = {
      store,
      queues,
      generator: new ExtractiveGenerator(),
      log: h.log,
      now: Date.now,
    } as unknown as StageDeps;
    const stale = { scope: SCOPE, roundId: round.id, version: 1, attempt: 1 };
    await runGenerate(deps, stale);
    await failRun(deps, stale, 'model server timed out');
    expect(await store.rounds.require(SCOPE, round.id)).toMatchObject({
      phase: 'generating',
      attempt: 2,
      failureReason: null,
    });
    expect(await store.polls.candidates(SCOPE, round.id, 1)).toBeNull();
    const scoreJob = jobId('score', scopeKey(SCOPE), round.id, 'v1', 'a1');
    expect(await queues.score.getJob(scoreJob)).toBeUndefined();
    const notice = jobId('pub', scopeKey(SCOPE), round.id, 'failed-v1-a1');
    expect(await queues.publishQueue(SCOPE).getJob(notice)).toBeUndefined();
    release();
  });

  it('posts no failure notice when the round moves on between its read and its marking', async () => {
    const { generator: stuck, release } = stuckGenerator();
    h = await startHarness({ generator: stuck, attempts: 1 });
    const { store, queues, service } = h.runtime;
    const round = await roundWithOpinions(h);
    await service.close({ scope: SCOPE, channelId: CHANNEL }, MODERATOR);
    const generating = await store.rounds.require(SCOPE, round.id);
    expect(generating.phase).toBe('generating');
    await service.cancel({ scope: SCOPE, channelId: CHANNEL, roundId: round.id }, MODERATOR);
    // failRun read the round just before the cancel landed: the stale read says generating.
    const rounds = Object.assign(Object.create(Object.getPrototypeOf(store.rounds)), store.rounds, {
      get: async () => generating,
    });
    const deps = { store: { ...store, rounds }, queues, log: h.log } as unknown as StageDeps;
    const job = { scope: SCOPE, roundId: round.id, version: 1, attempt: 1 };
    await failRun(deps, job, 'model server timed out');
    expect((await store.rounds.require(SCOPE, round.id)).phase).toBe('cancelled');
    const notice = jobId('pub', scopeKey(SCOPE), round.id, 'failed-v1-a1');
    expect(await queues.publishQueue(SCOPE).getJob(notice)).toBeUndefined();
    release();
  });
});
