import { type Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { scopeKey } from '../../src/domain/scope.js';
import { jobId, type PublishJob } from '../../src/pipeline/payloads.js';
import { PipelineQueues } from '../../src/pipeline/queues.js';
import { until } from '../support/harness.js';
import { deletePrefix, testRedis } from '../support/redis.js';

const JOB: PublishJob = {
  scope: { platform: 'console', workspaceId: 'W1' },
  roundId: 'r1',
  kind: 'statement',
  version: 1,
  text: null,
};

/** A moderator's `close` posting again a statement whose publish job gave up. */
describe('PipelineQueues.retryPublish', () => {
  const redisInfo = testRedis();
  let redis: Redis;
  let queues: PipelineQueues;
  let worker: Worker | null = null;
  beforeEach(() => {
    redis = redisInfo.connect();
    queues = new PipelineQueues(redis, { prefix: redisInfo.prefix, attempts: 1, backoffMs: 1 });
  });
  afterEach(async () => {
    const connection = worker?.opts.connection;
    await worker?.close();
    if (connection && 'quit' in connection) await connection.quit();
    worker = null;
    await queues.close();
    await deletePrefix(redis, redisInfo.prefix);
    await redis.quit();
  });

  const state = async () => (await queues.publishQueue(JOB.scope).getJob(jobIdOf()))?.getState();
  const jobIdOf = () => jobId('pub', scopeKey(JOB.scope), JOB.roundId, 'statement-v1');

  it('leaves a waiting job alone, runs a failed one again, and reports a completed one', async () => {
    await queues.enqueuePublish(JOB, 'statement-v1');
    expect(await queues.retryPublish(JOB, 'statement-v1')).toBe('pending');

    let refuse = true;
    const runs: number[] = [];
    worker = new Worker(
      queues.publishQueue(JOB.scope).name,
      async (job: Job) => {
        runs.push(job.attemptsMade);
        if (refuse) throw new Error('Missing Permissions');
      },
      { connection: redis.duplicate(), prefix: redisInfo.prefix },
    );
    await until(async () => (await state()) === 'failed', 10_000);
    // Every attempt was spent: nothing would ever post it again.
    expect(runs).toHaveLength(5);

    refuse = false;
    expect(await queues.retryPublish(JOB, 'statement-v1')).toBe('retried');
    await until(async () => (await state()) === 'completed', 10_000);
    expect(runs).toHaveLength(6);
    expect(await queues.retryPublish(JOB, 'statement-v1')).toBe('done');
  });

  it('adds the job again when BullMQ no longer keeps the failed one', async () => {
    expect(await queues.publishQueue(JOB.scope).getJob(jobIdOf())).toBeUndefined();
    expect(await queues.retryPublish(JOB, 'statement-v1')).toBe('retried');
    expect(await state()).toBe('waiting');
  });
});
