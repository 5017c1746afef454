import { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../src/app/config.js';
import { chooseModels } from '../../src/app/models.js';
import { createRuntime, type Runtime } from '../../src/app/runtime.js';
import { QUEUE_NAMES } from '../../src/pipeline/queues.js';
import { ConsolePlatform } from '../../src/platforms/console/console-platform.js';
import { defaultChat, FakeOpenAI, schemaName } from '../fakes/openai.js';
import { CHANNEL, MODERATOR, OPINIONS, RecordingLog, SCOPE, until } from '../support/harness.js';
import { deletePrefix, testRedis } from '../support/redis.js';
import { drained } from './support.js';

/**
 * A worker stopped (SIGTERM: a deploy, a scale-down) while a model stage is waiting on a
 * slow model. Left active when the process exits, the job sat out the stall interval and
 * counted a stall; a second stop during the same slow run failed the round ("stopped
 * twice while running"), and its shared model-request places stayed taken until their
 * leases ran out. A stop now hands the job back to its queue before it exits.
 */
describe('a worker stopped while a model call is in flight', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });

  it.each([
    ['generate', ['consensus_statement']],
    ['score', ['approval_ratings', 'approval_ratings_batch']],
  ] as const)(
    'hands its %s job back to the queue, and another worker completes the round with no stall',
    async (stage, schemas) => {
      const fake = await FakeOpenAI.start();
      cleanups.push(() => fake.close());
      let slow = true;
      // The stage's calls hang (until the client gives up) while `slow`: a model far slower
      // than a stop.
      fake.onChat = async (body) => {
        if (slow && (schemas as readonly (string | null)[]).includes(schemaName(body))) {
          await new Promise((resolve) => setTimeout(resolve, 30_000));
        }
        return defaultChat(body);
      };
      const env = testRedis();
      const redis = env.connect();
      cleanups.push(async () => {
        await deletePrefix(redis, env.prefix);
        await redis.quit();
      });
      const config = ConfigSchema.parse({
        REDIS_URL: env.url,
        REDIS_PREFIX: env.prefix,
        OPENAI_BASE_URL: fake.baseURL,
        LLM_TIMEOUT_MS: '60000',
        LLM_MAX_RETRIES: '0',
        JOB_ATTEMPTS: '1',
        WORKER_STALL_INTERVAL_MS: '60000',
      });
      const platform = new ConsolePlatform(() => {});
      const start = (log: RecordingLog): Runtime => {
        const models = chooseModels(config, log);
        const runtime = createRuntime({
          config,
          redis,
          log,
          generator: models.generator,
          rewardModel: models.rewardModel,
          platforms: { console: platform },
          runWorkers: true,
        });
        cleanups.push(() => runtime.close());
        return runtime;
      };
      const firstLog = new RecordingLog();
      const first = start(firstLog);
      const target = { scope: SCOPE, channelId: CHANNEL };
      const round = await first.service.start({
        ...target,
        actor: MODERATOR,
        question: 'Should our team adopt a four-day week?',
        settings: { candidates: 2 },
      });
      const thread = await until(
        async () => (await first.store.rounds.require(SCOPE, round.id)).questionRef,
      );
      let at = 1;
      for (const [userId, text] of Object.entries(OPINIONS)) {
        await first.service.reply({
          ...target,
          threadRootId: thread.messageId,
          messageId: `m-${userId}`,
          userId,
          text,
          at: at++,
        });
      }
      await first.service.close(target, MODERATOR);
      await until(() => schemas.some((schema) => fake.chatBodies(schema).length > 0), 10_000);
      const gateKey = `${env.prefix}:model-in-flight`;
      expect(await redis.zcard(gateKey)).toBeGreaterThan(0);

      const stopping = Date.now();
      await first.close(1_500);
      expect(Date.now() - stopping).toBeLessThan(3_000);
      const queue = new Queue(QUEUE_NAMES[stage], {
        connection: redis,
        prefix: first.queues.options.prefix,
      });
      cleanups.push(() => queue.close());
      const [job] = await queue.getJobs(['wait', 'active', 'delayed']);
      expect(await job?.getState()).toBe('waiting');
      expect(job?.attemptsMade).toBe(0);
      expect(job?.stalledCounter ?? 0).toBe(0);
      expect(firstLog.lines.map((l) => l.message)).toContain(
        'job handed back to its queue: this worker is stopping',
      );
      // The aborted calls gave back their places in the cap every worker shares.
      expect(await redis.zcard(gateKey)).toBe(0);

      // Another worker takes it at once, not after the 60 s stall interval.
      slow = false;
      const secondLog = new RecordingLog();
      const second = start(secondLog);
      await platform.waitFor('statement', round.id, 15_000);
      await drained(second.queues);
      expect(platform.posted.filter((m) => m.kind === 'notice')).toEqual([]);
      expect(await second.store.rounds.require(SCOPE, round.id)).toMatchObject({
        phase: 'polling',
        attempt: 1,
      });
    },
    40_000,
  );
});
