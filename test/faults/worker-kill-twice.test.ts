import { afterEach, describe, expect, it } from 'vitest';
import { scopeKey } from '../../src/domain/scope.js';
import { jobId } from '../../src/pipeline/payloads.js';
import { SCOPE, until } from '../support/harness.js';
import { drained, kill } from './support.js';
import { workerScene } from './worker-scene.js';

const K = 3;

describe('a job whose workers die twice (a poison job that crashes each worker taking it)', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });

  it('fails the round with a message in the channel instead of leaving it "generating" for good', async () => {
    // The model server never answers the statement prompts: each worker dies mid-call.
    const { fake, bot, platform, startWorker, closedRound } = await workerScene(cleanups, {
      jobAttempts: 3,
    });
    const round = await closedRound(K);

    // Two workers in turn take the job and die inside its model calls.
    for (const taken of [K, 2 * K]) {
      const worker = await startWorker();
      await until(async () => fake.chatBodies('consensus_statement').length >= taken, 15_000);
      expect(await kill(worker, 'SIGKILL')).toBe('SIGKILL');
    }
    // The next worker finds the job stalled once too often: BullMQ fails it without
    // running it, so the pipeline's own last-attempt handling never runs.
    const third = await startWorker();
    const generateId = jobId('generate', scopeKey(SCOPE), round.id, 'v1', 'a1');
    await until(async () => (await bot.queues.generate.getJob(generateId))?.failedReason, 20_000);
    const failedJob = await bot.queues.generate.getJob(generateId);
    expect(failedJob?.failedReason).toBe('job stalled more than allowable limit');
    // No third run of the samples: the job was not started again.
    expect(fake.chatBodies('consensus_statement').length).toBe(2 * K);

    const notice = await platform.waitFor('notice', round.id, 10_000);
    expect(notice.text).toMatch(/could not be produced: .*stopped twice.*`close`/);
    const failed = await bot.store.rounds.require(SCOPE, round.id);
    expect(failed.phase).toBe('failed');
    expect(failed.failureReason).toMatch(/stopped twice/);
    await drained(bot.queues);
    expect(platform.posted.filter((m) => m.kind === 'notice')).toHaveLength(1);
    expect(third.output()).toMatch(/"job stalled more than allowable limit"/);
  }, 60_000);
});
