import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../src/app/config.js';
import { chooseModels } from '../../src/app/models.js';
import { createRuntime, type Runtime } from '../../src/app/runtime.js';
import { ConsolePlatform } from '../../src/platforms/console/console-platform.js';
import { defaultChat, FakeOpenAI } from '../fakes/openai.js';
import { CHANNEL, MODERATOR, OPINIONS, RecordingLog, SCOPE, until } from '../support/harness.js';
import { deletePrefix, testRedis } from '../support/redis.js';
import { drained } from './support.js';

/**
 * A round waits for a model server that is away (unreachable, or 502/503/504) for up to
 * LLM_SERVER_WAIT_MS, on top of each call's own retries (LLM_MAX_RETRIES, ~0.5 s here).
 * One job attempt unless a test says otherwise, so that the job's attempts and their
 * backoff (JOB_ATTEMPTS, JOB_BACKOFF_MS) cannot be what carries a round through.
 */
const SETTINGS = {
  JOB_ATTEMPTS: '1',
  JOB_BACKOFF_MS: '150',
  LLM_MAX_RETRIES: '1',
  LLM_TIMEOUT_MS: '2000',
};

describe('the model server down for a while', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });

  /** A round with four opinions against a model server at `baseURL`, closed. */
  async function closedRound(baseURL: string, settings: Record<string, string> = {}) {
    const env = testRedis();
    const redis = env.connect();
    cleanups.push(async () => {
      await deletePrefix(redis, env.prefix);
      await redis.quit();
    });
    const config = ConfigSchema.parse({
      ...SETTINGS,
      ...settings,
      REDIS_PREFIX: env.prefix,
      OPENAI_BASE_URL: baseURL,
    });
    const log = new RecordingLog();
    // What the metrics' model request histogram is fed.
    const requests: { endpoint: string; outcome: string }[] = [];
    const models = chooseModels(config, log, {
      modelRequest: (endpoint, outcome) => requests.push({ endpoint, outcome }),
    });
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
    const closedAt = Date.now();
    await runtime.service.close(target, MODERATOR);
    const failedAttempts = () =>
      log.lines.filter(
        (l) => l.message === 'job failed' && 'attempt' in l.fields && 'final' in l.fields,
      );
    const logged = (message: RegExp) => log.lines.filter((l) => message.test(l.message));
    return { runtime, platform, round, log, failedAttempts, logged, target, closedAt, requests };
  }

  it('completes the round when the server comes back within the wait, posting once', async () => {
    // A port that refuses connections: the server is down.
    const probe = await FakeOpenAI.start();
    const port = Number(new URL(probe.baseURL).port);
    await probe.close();
    const { runtime, platform, round, failedAttempts, logged, requests } = await closedRound(
      `http://127.0.0.1:${port}/v1`,
    );

    // The calls' own retries are spent, and they wait: no job has failed.
    const away = await until(() => logged(/^model server unavailable/)[0], 10_000);
    expect(JSON.stringify(away.fields)).toMatch(/could not reach the model server/);
    await sleep(3_000);
    expect(failedAttempts()).toEqual([]);
    expect(platform.posted.filter((m) => m.kind === 'notice')).toEqual([]);
    const fake = await FakeOpenAI.start({ port });
    cleanups.push(() => fake.close());

    await platform.waitFor('statement', round.id, 15_000);
    await drained(runtime.queues);
    expect(platform.posted.filter((m) => m.kind === 'statement')).toHaveLength(1);
    expect(platform.posted.filter((m) => m.kind === 'notice')).toEqual([]);
    expect(fake.chatBodies('consensus_statement').length).toBeGreaterThanOrEqual(2);
    expect(failedAttempts()).toEqual([]);
    expect(logged(/^model server answering again/).length).toBeGreaterThanOrEqual(1);
    expect(requests).toContainEqual({ endpoint: 'chat', outcome: 'error' });
    expect(requests).toContainEqual({ endpoint: 'chat', outcome: '2xx' });
    expect(await runtime.store.rounds.require(SCOPE, round.id)).toMatchObject({
      phase: 'polling',
      attempt: 1,
    });
  }, 40_000);

  it('fails with one clear message in the channel after LLM_SERVER_WAIT_MS, and `close` retries it', async () => {
    const fake = await FakeOpenAI.start();
    cleanups.push(() => fake.close());
    fake.onChat = () => ({ kind: 'error', status: 503, message: 'upstream unavailable' });
    // Three attempts allowed: the wait must not be spent once per attempt.
    const { runtime, platform, round, failedAttempts, target, closedAt } = await closedRound(
      fake.baseURL,
      { LLM_SERVER_WAIT_MS: '2000', JOB_ATTEMPTS: '3' },
    );

    const notice = await platform.waitFor('notice', round.id, 15_000);
    expect(Date.now() - closedAt).toBeGreaterThanOrEqual(2_000);
    expect(notice.text).toMatch(
      /The statement could not be produced: the model server was unavailable for 2 s, as long as LLM_SERVER_WAIT_MS allows \(the model server answered 503 .*upstream unavailable\); check that it is running and reachable at OPENAI_BASE_URL\. A moderator can retry with `close`\.$/,
    );
    await drained(runtime.queues);
    expect(failedAttempts()).toHaveLength(1);
    expect(failedAttempts()[0]?.fields).toMatchObject({ attempt: 1, final: true });
    expect(platform.posted.filter((m) => m.kind === 'notice')).toHaveLength(1);
    expect(platform.posted.filter((m) => m.kind === 'statement')).toEqual([]);
    const failed = await runtime.store.rounds.require(SCOPE, round.id);
    expect(failed.phase).toBe('failed');
    expect(failed.failureReason).toMatch(/LLM_SERVER_WAIT_MS/);

    // Back up: a moderator's retry completes the round, and the old failure is not repeated.
    fake.onChat = defaultChat;
    await runtime.service.close(target, MODERATOR);
    await platform.waitFor('statement', round.id, 15_000);
    await drained(runtime.queues);
    expect(platform.posted.filter((m) => m.kind === 'statement')).toHaveLength(1);
    expect(platform.posted.filter((m) => m.kind === 'notice')).toHaveLength(1);
  }, 40_000);

  it('does not wait on a server error that is not an outage (500): the attempts decide', async () => {
    const fake = await FakeOpenAI.start();
    cleanups.push(() => fake.close());
    fake.onChat = () => ({ kind: 'error', status: 500, message: 'model crashed on this prompt' });
    const { platform, round, failedAttempts, closedAt } = await closedRound(fake.baseURL, {
      JOB_ATTEMPTS: '2',
    });
    const notice = await platform.waitFor('notice', round.id, 15_000);
    // Well inside the default LLM_SERVER_WAIT_MS (120 s).
    expect(Date.now() - closedAt).toBeLessThan(10_000);
    expect(notice.text).toMatch(/the model server answered 500 .*model crashed on this prompt/);
    expect(failedAttempts()).toHaveLength(2);
  });
});
