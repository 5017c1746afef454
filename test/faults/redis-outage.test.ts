import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { BotMetrics, startHealthServer } from '../../src/app/observability.js';
import { connectRedis, RedisOutageLog } from '../../src/app/redis.js';
import { CHANNEL, MODERATOR, RecordingLog, SCOPE, until } from '../support/harness.js';
import { deletePrefix, testRedis } from '../support/redis.js';
import { AofRedis, childEnv, kill, launch, offlineRuntime } from './support.js';

/**
 * The give-up window the old strategy had (20 tries, ~31 s at the default backoff) is
 * the number of tries, so a backoff of a few milliseconds passes it within a second: the
 * outage below lasts for many more tries than that, in seconds rather than a minute.
 */
const FAST_RECONNECT = { stepMs: 5, maxMs: 40 };

describe('Redis down for longer than a connection used to keep trying', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });

  it('reports not ready during the outage, then every connection (BullMQ workers too) comes back', async () => {
    const server = new AofRedis();
    await server.start();
    cleanups.push(() => server.stop());
    const redis: Redis = await connectRedis(server.socketPath, 1_000, FAST_RECONNECT);
    cleanups.push(async () => redis.disconnect());
    const { runtime, platform, log } = offlineRuntime(redis, {
      env: { JOB_BACKOFF_MS: '50', WORKER_STALL_INTERVAL_MS: '1000' },
    });
    cleanups.push(() => runtime.close());
    const metrics = new BotMetrics({ store: runtime.store, queues: runtime.queues, redis });
    const health = await startHealthServer({
      port: 0,
      host: '127.0.0.1',
      redis,
      queues: runtime.queues,
      metrics,
    });
    cleanups.push(async () => {
      health.server.closeAllConnections();
      await new Promise((r) => health.server.close(r));
    });
    const base = `http://127.0.0.1:${health.port}`;
    const get = (path: string) => fetch(`${base}${path}`, { signal: AbortSignal.timeout(5_000) });
    expect((await get('/readyz')).status).toBe(200);

    const before = log.lines.length;
    await server.crash();
    await until(async () => (await get('/readyz')).status === 503, 5_000);
    let reconnects = 0;
    redis.on('reconnecting', () => {
      reconnects++;
    });
    await until(() => reconnects > 40, 10_000);
    await sleep(500);
    // Still trying, not given up: an ended connection never comes back.
    expect(redis.status).not.toBe('end');
    const during = await get('/readyz');
    expect(during.status).toBe(503);
    expect(await during.text()).toMatch(/redis unreachable/);
    expect((await get('/healthz')).status).toBe(200);
    expect(await (await get('/metrics')).text()).toMatch(/^dlb_redis_up 0$/m);

    await server.start();
    await until(async () => (await get('/readyz')).status === 200, 10_000);
    expect(await (await get('/metrics')).text()).toMatch(/^dlb_redis_up 1$/m);
    // Long enough for every connection's next try (FAST_RECONNECT waits at most 40 ms).
    await sleep(500);
    // Hundreds of failed tries over the store's, BullMQ's and each worker's connections,
    // and the outage is told once each way; nothing at error level.
    const outage = log.lines.slice(before).filter((l) => l.level !== 'debug');
    expect(outage.map((l) => [l.level, l.message])).toEqual([
      ['warn', 'lost the Redis connection; reconnecting until it is back'],
      ['info', 'Redis connection back'],
    ]);
    const back = outage[1]?.fields as { connectionErrors?: number } | undefined;
    expect(back?.connectionErrors).toBeGreaterThan(40);
    // An error that is not about the connection is still logged, at error level.
    runtime.workers[0]?.emit('error', new Error('Missing lock for job 7. moveToFinished'));
    expect(log.lines.at(-1)).toMatchObject({ level: 'error', message: 'worker error' });
    // The workers' own connections (duplicated from this one) are back too: a round's
    // question goes through the publish queue and its worker.
    const round = await runtime.service.start({
      scope: SCOPE,
      channelId: CHANNEL,
      actor: MODERATOR,
      question: 'Should our team adopt a four-day week?',
    });
    await platform.waitFor('question', round.id, 15_000);
  }, 40_000);

  it('says once that `npm start` lost Redis and once that it is back, at the default retry pace', async () => {
    const server = new AofRedis();
    await server.start();
    cleanups.push(() => server.stop());
    const app = await launch('src/app/start.ts', childEnv({ REDIS_URL: server.socketPath }));
    cleanups.push(() => kill(app, 'SIGKILL'));
    const lines = () =>
      app
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { level: number; msg: string; connectionErrors?: number });
    const before = lines().length;
    // About what the audit measured (4 s: 67 lines, 40 of them at error level).
    await server.crash();
    await sleep(4_000);
    await server.start();
    await until(() => lines().some((l) => l.msg === 'Redis connection back'), 10_000);
    // Past the longest wait between two tries (2 s), so every connection has come back.
    await sleep(2_500);
    const outage = lines().slice(before);
    expect(outage.map((l) => l.msg)).toEqual([
      'lost the Redis connection; reconnecting until it is back',
      'Redis connection back',
    ]);
    expect(outage.map((l) => l.level)).toEqual([40, 30]);
    expect(outage[1]?.connectionErrors).toBeGreaterThan(0);
    expect(await kill(app, 'SIGTERM')).toBe(0);
  }, 40_000);

  it('tells once, at warn, of a worker connection that keeps failing while the others are up, and once when it stops', async () => {
    const env = testRedis();
    const redis = await connectRedis(env.url, 1_000, FAST_RECONNECT);
    cleanups.push(async () => {
      await deletePrefix(redis, env.prefix);
      redis.disconnect();
    });
    const log = new RecordingLog();
    // The default waits are 10 s each; the same rule, quicker.
    const outages = new RedisOutageLog(log, Date.now, { afterMs: 400, quietMs: 300 });
    outages.watch(redis);
    const { runtime } = offlineRuntime(redis, { env: { REDIS_PREFIX: env.prefix }, log, outages });
    cleanups.push(() => runtime.close());
    const worker = runtime.workers[0];
    if (!worker) throw new Error('no worker');
    // Every watched connection up (BullMQ's is the workers' shared one).
    await Promise.all(runtime.workers.map((w) => w.waitUntilReady()));
    // What a worker reports when its own blocking connection's tries fail (BullMQ
    // forwards them as 'error'), while the store's and BullMQ's shared one are ready.
    const failFor = async (ms: number) => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        const error = Object.assign(new Error('connect ECONNREFUSED 10.0.0.7:6379'), {
          code: 'ECONNREFUSED',
        });
        worker.emit('error', error);
        await sleep(40);
      }
    };
    const told = () =>
      log.lines
        .filter((l) => l.level !== 'debug')
        .map((l) => [l.level, l.message, l.fields as Record<string, unknown>] as const);

    // A few tries, as a worker's connection fails after an outage the others told of.
    await failFor(150);
    await sleep(500);
    expect(told()).toEqual([]);

    // Failing on and on: one line, not one per try.
    await failFor(1_000);
    expect(told().map(([level, message]) => [level, message])).toEqual([
      [
        'warn',
        'a Redis connection of the workers keeps failing while the others are up; reconnecting until it is back',
      ],
    ]);
    await sleep(500);
    const lines = told();
    expect(lines.map(([level, message]) => [level, message])).toEqual([
      [
        'warn',
        'a Redis connection of the workers keeps failing while the others are up; reconnecting until it is back',
      ],
      ['info', 'Redis connection of the workers back'],
    ]);
    expect(lines[0]?.[2]).toMatchObject({ err: 'connect ECONNREFUSED 10.0.0.7:6379' });
    expect(lines[0]?.[2].failingMs).toBeGreaterThanOrEqual(400);
    expect(lines[1]?.[2].connectionErrors).toBeGreaterThan(15);
    expect(lines[1]?.[2].failingMs).toBeGreaterThanOrEqual(900);
  }, 20_000);
});
