import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PublishJob } from '../../src/pipeline/payloads.js';
import { PipelineQueues } from '../../src/pipeline/queues.js';
import { deletePrefix, testRedis } from '../support/redis.js';

const SLACK: PublishJob = {
  scope: { platform: 'slack', workspaceId: 'T0LEGACY' },
  roundId: 'r1',
  kind: 'statement',
  version: 1,
  text: null,
};
const DISCORD: PublishJob = {
  scope: { platform: 'discord', workspaceId: '1578005794643771400' },
  roundId: 'r2',
  kind: 'progress',
  version: 1,
  text: null,
};

/** An upgrade from a version with one `publish` queue, with messages still in it. */
describe('messages left in the old publish queue', () => {
  const redisInfo = testRedis();
  let redis: Redis;
  let legacy: Queue;
  const processes: PipelineQueues[] = [];
  beforeEach(() => {
    redis = redisInfo.connect();
    legacy = new Queue('publish', { connection: redis, prefix: redisInfo.prefix });
  });
  afterEach(async () => {
    for (const queues of processes.splice(0)) await queues.close();
    await legacy.close();
    await deletePrefix(redis, redisInfo.prefix);
    await redis.quit();
  });

  const startProcess = () => {
    const queues = new PipelineQueues(redis, {
      prefix: redisInfo.prefix,
      attempts: 3,
      backoffMs: 10,
    });
    processes.push(queues);
    return queues;
  };

  it("move to their connections' queues once, however many processes start together", async () => {
    await legacy.add('statement', SLACK, { jobId: 'pub-slack.T0LEGACY-r1-statement-v1' });
    await legacy.add('progress', DISCORD, { delay: 60_000 });
    await legacy.add('bogus', { not: 'a publish job' });
    const [one, two] = [startProcess(), startProcess()];
    const moved = await Promise.all([one.moveLegacyPublishJobs(), two.moveLegacyPublishJobs()]);
    expect(moved[0] + moved[1]).toBe(2);

    const slack = await one.publishQueue(SLACK.scope).getJobs(['waiting']);
    expect(slack.map((j) => [j.id, j.data])).toEqual([
      ['pub-slack.T0LEGACY-r1-statement-v1', SLACK],
    ]);
    const discord = await one.publishQueue(DISCORD.scope).getJobs(['delayed']);
    expect(discord.map((j) => j.data)).toEqual([DISCORD]);
    // Still due about when it was: the wait it had left, not a new one from zero.
    expect(discord[0]?.delay).toBeGreaterThan(50_000);
    // What is no publish job stays where it was, for an operator to look at.
    expect((await legacy.getJobs(['waiting', 'delayed'])).map((j) => j.name)).toEqual(['bogus']);
    // A later start finds nothing more to move.
    expect(await one.moveLegacyPublishJobs()).toBe(0);
  });
});
