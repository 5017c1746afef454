import { createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BotMetrics, startHealthServer } from '../../src/app/observability.js';
import { RoundPhaseSchema } from '../../src/domain/phase.js';
import { PipelineQueues } from '../../src/pipeline/queues.js';
import { createStore } from '../../src/store/store.js';
import { type Harness, startHarness, startRound } from '../support/harness.js';

describe('health and metrics endpoints', () => {
  let h: Harness;
  const closers: (() => Promise<unknown>)[] = [];
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    await h.stop();
  });

  async function serve(
    redis: Redis,
    metrics = new BotMetrics({ store: h.runtime.store, queues: h.runtime.queues, redis }),
  ) {
    const { server, port } = await startHealthServer({
      port: 0,
      host: '127.0.0.1',
      redis,
      queues: h.runtime.queues,
      metrics,
    });
    closers.push(() => new Promise((r) => server.close(r)));
    return { base: `http://127.0.0.1:${port}`, metrics };
  }

  it('serves /healthz, /readyz and Prometheus /metrics with rounds by phase and jobs by queue', async () => {
    const { base, metrics } = await serve(h.redis);
    await startRound(h);
    metrics.modelCalls.inc({ stage: 'generate' }, 8);
    metrics.modelRequest('chat', '2xx', 0.3);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    const body = await (await fetch(`${base}/metrics`)).text();
    expect(body).toMatch(/dlb_rounds\{phase="collecting"\} 1/);
    // The publish queue this process takes (the console's), by its name.
    expect(body).toMatch(/dlb_jobs\{queue="publish\.console",state="completed"\} \d+/);
    expect(body).toMatch(/dlb_model_calls_total\{stage="generate"\} 8/);
    expect(body).toMatch(/# TYPE dlb_job_duration_seconds histogram/);
    expect(body).toMatch(
      /dlb_model_request_duration_seconds_count\{endpoint="chat",outcome="2xx"\} 1/,
    );
    expect(body).toMatch(/^dlb_redis_up 1$/m);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });

  it('is not ready while a platform connection is lost for good, and says which', async () => {
    let trouble: string | null = null;
    const { server, port } = await startHealthServer({
      port: 0,
      host: '127.0.0.1',
      redis: h.redis,
      queues: h.runtime.queues,
      metrics: new BotMetrics({ store: h.runtime.store, queues: h.runtime.queues, redis: h.redis }),
      platformTrouble: () => trouble,
    });
    closers.push(() => new Promise((r) => server.close(r)));
    const base = `http://127.0.0.1:${port}`;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    trouble = 'discord gateway not connected';
    const down = await fetch(`${base}/readyz`);
    expect(down.status).toBe(503);
    expect(await down.text()).toBe('discord gateway not connected\n');
    // Alive still: a restart is the orchestrator's call, made on readiness and exit codes.
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('exposes every phase, zeros included, before any round exists, and the process metrics once prefixed', async () => {
    const { base } = await serve(h.redis);
    const body = await (await fetch(`${base}/metrics`)).text();
    for (const phase of RoundPhaseSchema.options) {
      expect(body).toMatch(new RegExp(`^dlb_rounds\\{phase="${phase}"\\} 0$`, 'm'));
    }
    expect(body).toMatch(/^dlb_process_cpu_user_seconds_total /m);
    expect(body).toMatch(/^dlb_nodejs_eventloop_lag_seconds /m);
    expect(body).not.toMatch(/dlb_process_process_|dlb_process_nodejs_/);
  });

  it('reports not ready, with the reason, when Redis does not answer, and stays alive', async () => {
    // Nothing listens on port 1: the connection keeps trying, as the app's does in an outage.
    const down = new Redis({ port: 1, host: '127.0.0.1', retryStrategy: () => 100 });
    down.on('error', () => {});
    closers.push(async () => down.disconnect());
    const { base } = await serve(down);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.text()).toMatch(/redis unreachable/);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('is not alive once its Redis connection has given up for good (only a restart mends it)', async () => {
    const ended = new Redis({ port: 1, host: '127.0.0.1', retryStrategy: () => null });
    ended.on('error', () => {});
    closers.push(async () => ended.disconnect());
    await new Promise((r) => ended.once('end', r));
    const { base } = await serve(ended);
    const alive = await fetch(`${base}/healthz`);
    expect(alive.status).toBe(503);
    expect(await alive.text()).toMatch(/redis connection ended/);
  });

  it('answers /metrics with the process metrics while Redis accepts connections but never replies', async () => {
    // A Redis that hangs: every command waits for ever, which is what an outage looks like
    // to a connection that has not noticed yet.
    const sockets = new Set<Socket>();
    const silent: Server = createServer((socket) => {
      sockets.add(socket);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    closers.push(() => {
      for (const socket of sockets) socket.destroy();
      return new Promise((r) => silent.close(r));
    });
    const port = (silent.address() as { port: number }).port;
    const hung = new Redis({
      port,
      host: '127.0.0.1',
      enableReadyCheck: false,
      maxRetriesPerRequest: null,
    });
    hung.on('error', () => {});
    closers.push(async () => hung.disconnect());
    // Without `redis` the metrics do not look at the connection's status first, so the
    // scrape really sends its commands and has to give up on them.
    const metrics = new BotMetrics({
      store: createStore(hung, 'hung'),
      queues: new PipelineQueues(hung, { prefix: 'hung:bull', attempts: 1, backoffMs: 0 }),
      redisTimeoutMs: 300,
    });
    const { base } = await serve(hung, metrics);

    const started = Date.now();
    const response = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5_000) });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(response.status).toBe(200);
    const body = await response.text();
    expect(body).toMatch(/^dlb_redis_up 0$/m);
    expect(body).toMatch(/^dlb_process_cpu_user_seconds_total /m);
    expect(body).not.toMatch(/^dlb_rounds\{/m);
    expect(body).not.toMatch(/^dlb_jobs\{/m);
    const ready = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(5_000) });
    expect(ready.status).toBe(503);
  });
});
