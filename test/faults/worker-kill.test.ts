import { afterEach, describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../src/app/config.js';
import { createRuntime, type Runtime } from '../../src/app/runtime.js';
import { scopeKey } from '../../src/domain/scope.js';
import { ExtractiveGenerator } from '../../src/models/offline/extractive-generator.js';
import { LexicalRewardModel } from '../../src/models/offline/lexical-reward-model.js';
import { jobId } from '../../src/pipeline/payloads.js';
import { ConsolePlatform } from '../../src/platforms/console/console-platform.js';
import { defaultChat, FakeOpenAI, schemaName } from '../fakes/openai.js';
import { CHANNEL, MODERATOR, OPINIONS, RecordingLog, SCOPE, until } from '../support/harness.js';
import { deletePrefix, testRedis } from '../support/redis.js';
import { type AppProcess, childEnv, kill, launch } from './support.js';

/** Short, so the test waits seconds, not BullMQ's default 30 s, for the dead worker's lock. */
const STALL_MS = '1500';

describe('a worker killed with SIGKILL in the middle of generation', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });

  it('has its job picked up again after the stall interval, and the round posts one statement', async () => {
    // The model server answers nothing until released: the first worker dies mid-call.
    const fake = await FakeOpenAI.start();
    let holding = true;
    let release = () => {};
    const released = new Promise<void>((r) => {
      release = r;
    });
    fake.onChat = async (body) => {
      if (holding && schemaName(body) === 'consensus_statement') await released;
      return defaultChat(body);
    };
    cleanups.push(async () => {
      release();
      await fake.close();
    });

    const env = testRedis();
    const redis = env.connect();
    cleanups.push(async () => {
      await deletePrefix(redis, env.prefix);
      await redis.quit();
    });
    // The bot side, in this process: the service and the publisher, no pipeline workers.
    const platform = new ConsolePlatform(() => {});
    const bot: Runtime = createRuntime({
      config: ConfigSchema.parse({ REDIS_PREFIX: env.prefix, WORKER_STALL_INTERVAL_MS: STALL_MS }),
      redis,
      log: new RecordingLog(),
      generator: new ExtractiveGenerator(),
      rewardModel: new LexicalRewardModel(),
      platforms: { console: platform },
      runWorkers: false,
    });
    cleanups.push(() => bot.close());

    const workerEnv = childEnv({
      REDIS_URL: env.url,
      REDIS_PREFIX: env.prefix,
      OPENAI_BASE_URL: fake.baseURL,
      WORKER_STALL_INTERVAL_MS: STALL_MS,
      JOB_ATTEMPTS: '2',
    });
    const workers: AppProcess[] = [];
    cleanups.push(() => Promise.all(workers.map((w) => kill(w, 'SIGKILL'))));
    const first = await launch('src/app/worker.ts', workerEnv);
    workers.push(first);

    const round = await bot.service.start({
      scope: SCOPE,
      channelId: CHANNEL,
      actor: MODERATOR,
      question: 'Should our team adopt a four-day week?',
      settings: { candidates: 3 },
    });
    const thread = await until(
      async () => (await bot.store.rounds.require(SCOPE, round.id)).questionRef,
    );
    let at = 1;
    for (const [userId, text] of Object.entries(OPINIONS)) {
      await bot.service.reply({
        scope: SCOPE,
        channelId: CHANNEL,
        threadRootId: thread.messageId,
        messageId: `m-${userId}`,
        userId,
        text,
        at: at++,
      });
    }
    await bot.service.close({ scope: SCOPE, channelId: CHANNEL }, MODERATOR);

    // The first worker is inside generation, its requests in flight: kill it there.
    await until(async () => fake.chatBodies('consensus_statement').length >= 1);
    expect(await kill(first, 'SIGKILL')).toBe('SIGKILL');
    const generateId = jobId('generate', scopeKey(SCOPE), round.id, 'v1', 'a1');
    const job = await bot.queues.generate.getJob(generateId);
    expect(await job?.getState()).toBe('active');
    holding = false;
    const sentBeforeKill = fake.chatBodies('consensus_statement').length;

    const second = await launch('src/app/worker.ts', workerEnv);
    workers.push(second);
    await platform.waitFor('statement', round.id, 20_000);

    // Drained: nothing left that could post again.
    await until(async () => {
      const counts = await Promise.all(
        [bot.queues.generate, bot.queues.score, bot.queues.select, bot.queues.publish].map((q) =>
          q.getJobCounts('active', 'waiting', 'delayed', 'prioritized'),
        ),
      );
      return counts.every((c) => Object.values(c).every((n) => n === 0));
    });
    const statements = platform.posted.filter((m) => m.kind === 'statement');
    expect(statements).toHaveLength(1);
    expect(platform.posted.filter((m) => m.kind === 'notice')).toEqual([]);
    const done = await bot.store.rounds.require(SCOPE, round.id);
    // The same run finished it (attempt 1): no failure, no moderator retry.
    expect(done).toMatchObject({ phase: 'polling', version: 1, attempt: 1, failureReason: null });
    // BullMQ moved it back once because its lock expired, not because it failed.
    const finished = await bot.queues.generate.getJob(generateId);
    expect(await finished?.getState()).toBe('completed');
    expect(finished?.stalledCounter).toBe(1);
    expect(finished?.attemptsMade).toBe(1);
    // The second worker wrote all three samples again (the dead one's calls never returned).
    expect(fake.chatBodies('consensus_statement').length).toBe(sentBeforeKill + 3);
  }, 45_000);
});
