import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BotMetrics, startHealthServer } from '../../src/app/observability.js';
import { type Harness, startHarness, startRound } from '../support/harness.js';

describe('health and metrics endpoints', () => {
  let h: Harness;
  const closers: (() => Promise<unknown>)[] = [];
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
    await h.stop();
  });

  async function serve(redis: Redis) {
    const metrics = new BotMetrics({ store: h.runtime.store, queues: h.runtime.queues });
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
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    const body = await (await fetch(`${base}/metrics`)).text();
    expect(body).toMatch(/dlb_rounds\{phase="collecting"\} 1/);
    expect(body).toMatch(/dlb_jobs\{queue="publish",state="completed"\} \d+/);
    expect(body).toMatch(/dlb_model_calls_total\{stage="generate"\} 8/);
    expect(body).toMatch(/# TYPE dlb_job_duration_seconds histogram/);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });

  it('reports not ready, with the reason, when Redis does not answer', async () => {
    const dead = new Redis({
      port: 1,
      host: '127.0.0.1',
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    dead.on('error', () => {});
    closers.push(async () => dead.disconnect());
    const { base } = await serve(dead);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.text()).toMatch(/redis unreachable/);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});
