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
import { type AppProcess, childEnv, drained, kill, launch } from './support.js';

const STALL_MS = '1500';
const K = 3;

describe('a job whose workers die twice (a poison job that crashes each worker taking it)', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });

  it('fails the round with a message in the channel instead of leaving it "generating" for good', async () => {
    // The model server never answers the statement prompts: each worker dies mid-call.
    const fake = await FakeOpenAI.start();
    let release = () => {};
    const released = new Promise<void>((r) => {
      release = r;
    });
    fake.onChat = async (body) => {
      if (schemaName(body) === 'consensus_statement') await released;
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
      JOB_ATTEMPTS: '3',
    });
    const workers: AppProcess[] = [];
    cleanups.push(() => Promise.all(workers.map((w) => kill(w, 'SIGKILL'))));

    const round = await bot.service.start({
      scope: SCOPE,
      channelId: CHANNEL,
      actor: MODERATOR,
      question: 'Should our team adopt a four-day week?',
      settings: { candidates: K },
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

    // Two workers in turn take the job and die inside its model calls.
    for (const taken of [K, 2 * K]) {
      const worker = await launch('src/app/worker.ts', workerEnv);
      workers.push(worker);
      await until(async () => fake.chatBodies('consensus_statement').length >= taken, 15_000);
      expect(await kill(worker, 'SIGKILL')).toBe('SIGKILL');
    }
    // The next worker finds the job stalled once too often: BullMQ fails it without
    // running it, so the pipeline's own last-attempt handling never runs.
    const third = await launch('src/app/worker.ts', workerEnv);
    workers.push(third);
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
