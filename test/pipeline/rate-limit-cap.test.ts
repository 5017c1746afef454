import { Queue, type Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RateLimitedError } from '../../src/models/llm/errors.js';
import { GenerateJobSchema, type StageJob } from '../../src/pipeline/payloads.js';
import { validatedWorker } from '../../src/pipeline/workers.js';
import { RecordingLog, until } from '../support/harness.js';
import { deletePrefix, testRedis } from '../support/redis.js';

const JOB: StageJob = {
  scope: { platform: 'console', workspaceId: 'W1' },
  roundId: 'r1',
  version: 1,
  attempt: 1,
};

/**
 * A model server that answers 429 for good (a spent quota): a job put back without
 * spending an attempt must still end, or the round would stay "generating" with no word.
 */
describe('a stage job the model server keeps rate limiting', () => {
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
    // BullMQ leaves a connection it was given open.
    await workerConnection?.quit();
    await queue.close();
    await deletePrefix(redis, redisInfo.prefix);
    await redis.quit();
  });

  it('fails for good once it was put back more often and for longer than the patience allows', async () => {
    let runs = 0;
    const failures: string[] = [];
    workerConnection = redis.duplicate();
    worker = validatedWorker(
      'generate',
      GenerateJobSchema,
      async () => {
        runs++;
        throw new RateLimitedError(5);
      },
      {
        connection: workerConnection,
        prefix: redisInfo.prefix,
        concurrency: 1,
        log: new RecordingLog(),
        rateLimitPatience: { runs: 3, ms: 0 },
      },
      async (_job, error) => {
        failures.push(error.message);
      },
    );
    await queue.add('generate', JOB, { attempts: 1 });
    await until(() => failures.length > 0 || null, 15_000);
    // Put back three times, then the fourth run's 429 ends it: one attempt was all it had.
    expect(runs).toBe(4);
    expect(failures).toEqual([
      expect.stringMatching(
        /^the model server kept rate limiting requests \(4 tries in 0 minutes\)$/,
      ),
    ]);
  });
});
