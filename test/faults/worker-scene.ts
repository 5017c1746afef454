import { ConfigSchema } from '../../src/app/config.js';
import { createRuntime, type Runtime } from '../../src/app/runtime.js';
import type { Round } from '../../src/domain/round.js';
import { ExtractiveGenerator } from '../../src/models/offline/extractive-generator.js';
import { LexicalRewardModel } from '../../src/models/offline/lexical-reward-model.js';
import { ConsolePlatform } from '../../src/platforms/console/console-platform.js';
import { defaultChat, FakeOpenAI, schemaName } from '../fakes/openai.js';
import { CHANNEL, MODERATOR, OPINIONS, RecordingLog, SCOPE, until } from '../support/harness.js';
import { deletePrefix, testRedis } from '../support/redis.js';
import { type AppProcess, childEnv, kill, launch } from './support.js';

/** Short, so a test waits seconds, not BullMQ's default 30 s, for a dead worker's lock. */
const STALL_MS = '1500';

/**
 * The setting of the worker-kill tests: a fake model server whose statement prompts hang
 * while `holding` (so a worker can be killed inside them), the bot side in this process
 * (service and publisher, no pipeline workers), and worker processes started on demand.
 * Everything it starts is undone by the cleanups it registers.
 */
export async function workerScene(
  cleanups: (() => Promise<unknown>)[],
  options: { jobAttempts: number },
) {
  const fake = await FakeOpenAI.start();
  const hold = { holding: true };
  let release = () => {};
  const released = new Promise<void>((r) => {
    release = r;
  });
  fake.onChat = async (body) => {
    if (hold.holding && schemaName(body) === 'consensus_statement') await released;
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
    JOB_ATTEMPTS: String(options.jobAttempts),
  });
  const workers: AppProcess[] = [];
  cleanups.push(() => Promise.all(workers.map((w) => kill(w, 'SIGKILL'))));

  return {
    fake,
    bot,
    platform,
    /** Set `holding = false` to let the statement prompts through from then on. */
    hold,
    async startWorker(): Promise<AppProcess> {
      const worker = await launch('src/app/worker.ts', workerEnv);
      workers.push(worker);
      return worker;
    },
    /** A round of `candidates` samples with every member's opinion, closed by the moderator. */
    async closedRound(candidates: number): Promise<Round> {
      const round = await bot.service.start({
        scope: SCOPE,
        channelId: CHANNEL,
        actor: MODERATOR,
        question: 'Should our team adopt a four-day week?',
        settings: { candidates },
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
      return round;
    },
  };
}
