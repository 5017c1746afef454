import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Usage } from '../models/ports.js';
import type { PipelineQueues } from '../pipeline/queues.js';
import type { PipelineMetrics } from '../pipeline/stages.js';
import type { Store } from '../store/store.js';

const JOB_STATES = ['waiting', 'active', 'delayed', 'completed', 'failed'] as const;

/** The Prometheus metrics this process exports; gauges are read from Redis at scrape time. */
export class BotMetrics implements PipelineMetrics {
  readonly registry = new Registry();
  readonly jobDuration: Histogram<'queue' | 'outcome'>;
  readonly modelCalls: Counter<'stage'>;
  readonly modelTokens: Counter<'stage' | 'kind'>;

  constructor(deps: { store: Store; queues: PipelineQueues }) {
    collectDefaultMetrics({ register: this.registry, prefix: 'dlb_process_' });
    new Gauge({
      name: 'dlb_rounds',
      help: 'Rounds by phase, across all workspaces',
      labelNames: ['phase'],
      registers: [this.registry],
      async collect() {
        const counts = await deps.store.rounds.phaseCounts();
        this.reset();
        for (const [phase, n] of Object.entries(counts)) this.set({ phase }, n);
      },
    });
    new Gauge({
      name: 'dlb_jobs',
      help: 'BullMQ jobs by queue and state',
      labelNames: ['queue', 'state'],
      registers: [this.registry],
      async collect() {
        const queues = [
          deps.queues.generate,
          deps.queues.score,
          deps.queues.select,
          deps.queues.publish,
          deps.queues.deadline,
        ];
        for (const queue of queues) {
          const counts = await queue.getJobCounts(...JOB_STATES);
          for (const state of JOB_STATES)
            this.set({ queue: queue.name, state }, counts[state] ?? 0);
        }
      },
    });
    this.jobDuration = new Histogram({
      name: 'dlb_job_duration_seconds',
      help: 'Time to process one job, by queue and outcome',
      labelNames: ['queue', 'outcome'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers: [this.registry],
    });
    this.modelCalls = new Counter({
      name: 'dlb_model_calls_total',
      help: 'Model calls made, by pipeline stage',
      labelNames: ['stage'],
      registers: [this.registry],
    });
    this.modelTokens = new Counter({
      name: 'dlb_model_tokens_total',
      help: 'Model tokens used, by stage and kind (prompt, completion)',
      labelNames: ['stage', 'kind'],
      registers: [this.registry],
    });
  }

  modelUsage(stage: 'generate' | 'score', usage: Usage): void {
    this.modelCalls.inc({ stage }, usage.calls);
    this.modelTokens.inc({ stage, kind: 'prompt' }, usage.promptTokens);
    this.modelTokens.inc({ stage, kind: 'completion' }, usage.completionTokens);
  }

  jobFinished(
    queue: string,
    outcome: 'completed' | 'failed' | 'rate_limited',
    seconds: number,
  ): void {
    this.jobDuration.observe({ queue, outcome }, seconds);
  }
}

export interface HealthServerOptions {
  port: number;
  host?: string;
  redis: Redis;
  queues: PipelineQueues;
  metrics: BotMetrics;
}

/** Answers whether Redis and the queues respond, within a short timeout. */
export async function readiness(
  redis: Redis,
  queues: PipelineQueues,
): Promise<{ ok: boolean; detail: string }> {
  try {
    const check = Promise.all([redis.ping(), queues.generate.getJobCounts('waiting')]);
    await Promise.race([
      check,
      new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), 2_000)),
    ]);
    return { ok: true, detail: 'redis and queues reachable' };
  } catch (error) {
    return {
      ok: false,
      detail: `redis unreachable: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}

/** Routes for /healthz, /readyz and /metrics; usable standalone or beside the Slack receiver. */
export function healthRoutes(options: Omit<HealthServerOptions, 'port' | 'host'>) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') return false;
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return true;
    }
    if (path === '/readyz') {
      const ready = await readiness(options.redis, options.queues);
      res
        .writeHead(ready.ok ? 200 : 503, { 'content-type': 'text/plain' })
        .end(`${ready.detail}\n`);
      return true;
    }
    if (path === '/metrics') {
      try {
        const body = await options.metrics.registry.metrics();
        res.writeHead(200, { 'content-type': options.metrics.registry.contentType }).end(body);
      } catch (error) {
        res
          .writeHead(503, { 'content-type': 'text/plain' })
          .end(`metrics unavailable: ${error instanceof Error ? error.message : String(error)}\n`);
      }
      return true;
    }
    return false;
  };
}

export async function startHealthServer(
  options: HealthServerOptions,
): Promise<{ server: Server; port: number }> {
  const routes = healthRoutes(options);
  const server = createServer((req, res) => {
    routes(req, res).then(
      (handled) => {
        if (!handled) res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      },
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}
