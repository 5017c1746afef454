import { Queue, type Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GenerateJobSchema, type StageJob } from '../../src/pipeline/payloads.js';
import { closeWorkers, handBackMs, validatedWorker } from '../../src/pipeline/workers.js';
import { RecordingLog, until } from '../support/harness.js';
import { deletePrefix, testRedis } from '../support/redis.js';

const JOB: StageJob = {
  scope: { platform: 'console', workspaceId: 'W1' },
  roundId: 'r1',
  version: 1,
  attempt: 1,
};

/**
 * What a stop does with the jobs a worker is running (closeWorkers): it lets them finish
 * until the hand-back, then aborts them; only a job the abort ended goes back to its queue.
 */
describe('a worker stopping with a job in hand', () => {
  const redisInfo = testRedis();
  let redis: Redis;
  let queue: Queue;
  let worker: Worker | null = null;
  let workerConnection: Redis | null = null;
  beforeEach(() => {
    redis = redisInfo.connect();
    queue = new Queue('generate', { connection: redis, prefix: redisInfo.prefix });
  });
  afterEach(async () => {
    await worker?.close();
    await workerConnection?.quit();
    await queue.close();
    await deletePrefix(redis, redisInfo.prefix);
    await redis.quit();
  });

  /** A worker whose job runs `handle`, started, with one job queued and running. */
  async function running(handle: (signal?: AbortSignal) => Promise<void>) {
    const log = new RecordingLog();
    workerConnection = redis.duplicate();
    worker = validatedWorker('generate', GenerateJobSchema, (_p, _j, signal) => handle(signal), {
      connection: workerConnection,
      prefix: redisInfo.prefix,
      concurrency: 1,
      log,
    });
    const job = await queue.add('generate', JOB, { attempts: 3 });
    await until(async () => (await job.getState()) === 'active' || null, 10_000);
    return { log, job, worker };
  }

  it('lets a job that finishes before the hand-back finish', async () => {
    const { job, worker } = await running(() => new Promise((r) => setTimeout(r, 300)));
    expect(await closeWorkers([worker], 3_000)).toBe(true);
    expect(await queue.getJobState(String(job.id))).toBe('completed');
  });

  it('hands back a job the abort ended, near the end of the stop, spending no attempt', async () => {
    let abortedAfter = -1;
    const started = Date.now();
    const { job, worker, log } = await running(
      (signal) =>
        new Promise((_resolve, reject) => {
          signal?.addEventListener('abort', () => {
            abortedAfter = Date.now() - started;
            reject(signal.reason);
          });
        }),
    );
    expect(await closeWorkers([worker], 3_000)).toBe(true);
    // The job had the stop's time but its last third (handBackMs) to finish.
    expect(abortedAfter).toBeGreaterThanOrEqual(3_000 - handBackMs(3_000) - 50);
    const back = await queue.getJob(String(job.id));
    expect(await back?.getState()).toBe('waiting');
    expect(back?.attemptsMade).toBe(0);
    expect(log.lines.map((l) => l.message)).toContain(
      'job handed back to its queue: this worker is stopping',
    );
  });

  it('fails, as it would have, a job that ends for its own reason during the hand-back', async () => {
    const { job, worker } = await running(
      (signal) =>
        new Promise((_resolve, reject) => {
          // A stage that does not listen to the signal, failing in those last seconds.
          signal?.addEventListener('abort', () =>
            setTimeout(() => reject(new Error('Slack refused the post')), 20),
          );
        }),
    );
    expect(await closeWorkers([worker], 3_000)).toBe(true);
    const failed = await queue.getJob(String(job.id));
    expect(failed?.attemptsMade).toBe(1);
    expect(failed?.failedReason).toBe('Slack refused the post');
  });
});
