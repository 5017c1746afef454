import { afterEach, describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../src/app/config.js';
import { chooseModels } from '../../src/app/models.js';
import { createRuntime, type Runtime } from '../../src/app/runtime.js';
import { ConsolePlatform } from '../../src/platforms/console/console-platform.js';
import { defaultChat, FakeOpenAI } from '../fakes/openai.js';
import { CHANNEL, MODERATOR, OPINIONS, RecordingLog, SCOPE, until } from '../support/harness.js';
import { deletePrefix, testRedis } from '../support/redis.js';

/**
 * The wait a round gives a model server that is down is the job's attempts and their
 * backoff (JOB_ATTEMPTS, JOB_BACKOFF_MS), on top of each call's own retries
 * (LLM_MAX_RETRIES). Short here: 4 attempts, 150 + 300 + 600 ms apart.
 */
const SETTINGS = {
  JOB_ATTEMPTS: '4',
  JOB_BACKOFF_MS: '150',
  LLM_MAX_RETRIES: '0',
  LLM_TIMEOUT_MS: '2000',
};

describe('the model server down for a while', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });

  /** A round with four opinions against a model server at `baseURL`, closed. */
  async function closedRound(baseURL: string) {
    const env = testRedis();
    const redis = env.connect();
    cleanups.push(async () => {
      await deletePrefix(redis, env.prefix);
      await redis.quit();
    });
    const config = ConfigSchema.parse({
      ...SETTINGS,
      REDIS_PREFIX: env.prefix,
      OPENAI_BASE_URL: baseURL,
    });
    const log = new RecordingLog();
    const models = chooseModels(config, log);
    const platform = new ConsolePlatform(() => {});
    const runtime: Runtime = createRuntime({
      config,
      redis,
      log,
      generator: models.generator,
      rewardModel: models.rewardModel,
      platforms: { console: platform },
      runWorkers: true,
    });
    cleanups.push(() => runtime.close());
    const target = { scope: SCOPE, channelId: CHANNEL };
    const round = await runtime.service.start({
      ...target,
      actor: MODERATOR,
      question: 'Should our team adopt a four-day week?',
      settings: { candidates: 2 },
    });
    const thread = await until(
      async () => (await runtime.store.rounds.require(SCOPE, round.id)).questionRef,
    );
    let at = 1;
    for (const [userId, text] of Object.entries(OPINIONS)) {
      await runtime.service.reply({
        ...target,
        threadRootId: thread.messageId,
        messageId: `m-${userId}`,
        userId,
        text,
        at: at++,
      });
    }
    await runtime.service.close(target, MODERATOR);
    const failedAttempts = () =>
      log.lines.filter(
        (l) => l.message === 'job failed' && 'attempt' in l.fields && 'final' in l.fields,
      );
    return { runtime, platform, round, log, failedAttempts, target };
  }

  /** Waits until no pipeline or publish job is left, so nothing more can be posted. */
  async function drained(runtime: Runtime) {
    const { generate, score, select, publish } = runtime.queues;
    await until(async () => {
      const counts = await Promise.all(
        [generate, score, select, publish].map((q) =>
          q.getJobCounts('active', 'waiting', 'delayed', 'prioritized'),
        ),
      );
      return counts.every((c) => Object.values(c).every((n) => n === 0));
    });
  }

  it('completes the round when the server comes back within the wait, posting once', async () => {
    // A port that refuses connections: the server is down.
    const probe = await FakeOpenAI.start();
    const port = Number(new URL(probe.baseURL).port);
    await probe.close();
    const { runtime, platform, round, failedAttempts } = await closedRound(
      `http://127.0.0.1:${port}/v1`,
    );

    await until(async () => failedAttempts().length >= 1);
    expect(JSON.stringify(failedAttempts()[0]?.fields)).toMatch(/could not reach the model server/);
    const fake = await FakeOpenAI.start({ port });
    cleanups.push(() => fake.close());

    await platform.waitFor('statement', round.id, 15_000);
    await drained(runtime);
    expect(platform.posted.filter((m) => m.kind === 'statement')).toHaveLength(1);
    expect(platform.posted.filter((m) => m.kind === 'notice')).toEqual([]);
    expect(fake.chatBodies('consensus_statement').length).toBeGreaterThanOrEqual(2);
    expect(await runtime.store.rounds.require(SCOPE, round.id)).toMatchObject({
      phase: 'polling',
      attempt: 1,
    });
  });

  it('fails with one clear message in the channel after the wait, and `close` retries it', async () => {
    const fake = await FakeOpenAI.start();
    cleanups.push(() => fake.close());
    fake.onChat = () => ({ kind: 'error', status: 503, message: 'upstream unavailable' });
    const { runtime, platform, round, failedAttempts, target } = await closedRound(fake.baseURL);

    const notice = await platform.waitFor('notice', round.id, 15_000);
    expect(notice.text).toMatch(
      /The statement could not be produced: .*the model server answered 503 .*upstream unavailable.*A moderator can retry with `close`/,
    );
    await drained(runtime);
    expect(failedAttempts()).toHaveLength(4);
    expect(platform.posted.filter((m) => m.kind === 'notice')).toHaveLength(1);
    expect(platform.posted.filter((m) => m.kind === 'statement')).toEqual([]);
    const failed = await runtime.store.rounds.require(SCOPE, round.id);
    expect(failed.phase).toBe('failed');
    expect(failed.failureReason).toMatch(/503/);

    // Back up: a moderator's retry completes the round, and the old failure is not repeated.
    fake.onChat = defaultChat;
    await runtime.service.close(target, MODERATOR);
    await platform.waitFor('statement', round.id, 15_000);
    await drained(runtime);
    expect(platform.posted.filter((m) => m.kind === 'statement')).toHaveLength(1);
    expect(platform.posted.filter((m) => m.kind === 'notice')).toHaveLength(1);
  });
});
