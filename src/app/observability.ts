import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { errorMessage } from '../domain/errors.js';
import { RoundPhaseSchema } from '../domain/phase.js';
import type { Usage } from '../models/ports.js';
import type { PipelineQueues } from '../pipeline/queues.js';
import type { PipelineMetrics } from '../pipeline/stages.js';
import type { Store } from '../store/store.js';
import { withTimeout } from './redis.js';

const JOB_STATES = ['waiting', 'active', 'delayed', 'completed', 'failed'] as const;

/** How long /readyz and a scrape of /metrics wait for Redis before answering without it. */
export const REDIS_CHECK_TIMEOUT_MS = 2_000;

/** What one scrape reads from Redis: shared by every Redis-backed gauge of that scrape. */
interface RedisSnapshot {
  phases: Record<string, number>;
  jobs: { queue: string; counts: Record<string, number> }[];
}

export interface BotMetricsDeps {
  store: Store;
  queues: PipelineQueues;
  /** The store's connection: while it is down, a scrape does not queue commands on it. */
  redis?: Redis;
  /** How long a scrape waits for Redis (REDIS_CHECK_TIMEOUT_MS unless a test says). */
  redisTimeoutMs?: number;
}

/**
 * The Prometheus metrics this process exports. `dlb_rounds` and `dlb_jobs` are read
 * from Redis at scrape time, so every process reports the same, global, numbers; the
 * counters and histograms count what this process did.
 */
export class BotMetrics implements PipelineMetrics {
  readonly registry = new Registry();
  readonly jobDuration: Histogram<'queue' | 'outcome'>;
  readonly modelCalls: Counter<'stage'>;
  readonly modelTokens: Counter<'stage' | 'kind'>;
  readonly modelRequestDuration: Histogram<'endpoint' | 'outcome'>;
  private inFlight: Promise<RedisSnapshot | null> | null = null;

  constructor(private readonly deps: BotMetricsDeps) {
    // prom-client's default names already start with process_ or nodejs_.
    collectDefaultMetrics({ register: this.registry, prefix: 'dlb_' });
    const snapshot = () => this.redisSnapshot();
    new Gauge({
      name: 'dlb_redis_up',
      help: 'Whether this scrape read dlb_rounds and dlb_jobs from Redis (1) or Redis did not answer in time and they are left out (0)',
      registers: [this.registry],
      async collect() {
        this.set((await snapshot()) ? 1 : 0);
      },
    });
    new Gauge({
      name: 'dlb_rounds',
      help: 'Rounds by phase, across all workspaces (global: the same in every process)',
      labelNames: ['phase'],
      registers: [this.registry],
      async collect() {
        const snap = await snapshot();
        this.reset();
        if (!snap) return;
        // Every phase, zeros included, so a rate or an alert has a series before any round.
        for (const phase of RoundPhaseSchema.options) this.set({ phase }, snap.phases[phase] ?? 0);
      },
    });
    new Gauge({
      name: 'dlb_jobs',
      help: 'BullMQ jobs by queue and state (global, the same in every process, but for the publish queues: each process reports those it takes)',
      labelNames: ['queue', 'state'],
      registers: [this.registry],
      async collect() {
        const snap = await snapshot();
        this.reset();
        if (!snap) return;
        for (const { queue, counts } of snap.jobs) {
          for (const state of JOB_STATES) this.set({ queue, state }, counts[state] ?? 0);
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
    this.modelRequestDuration = new Histogram({
      name: 'dlb_model_request_duration_seconds',
      help: 'One HTTP request to the model server, by endpoint (chat, embeddings) and outcome (HTTP status class, or error)',
      labelNames: ['endpoint', 'outcome'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120],
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
    outcome: 'completed' | 'failed' | 'rate_limited' | 'handed_back',
    seconds: number,
  ): void {
    this.jobDuration.observe({ queue, outcome }, seconds);
  }

  modelRequest(endpoint: string, outcome: string, seconds: number): void {
    this.modelRequestDuration.observe({ endpoint, outcome }, seconds);
  }

  /**
   * One read of Redis per scrape, bounded in time: prom-client awaits every gauge's
   * collect, so without the bound /metrics never answered while Redis was down.
   */
  private redisSnapshot(): Promise<RedisSnapshot | null> {
    this.inFlight ??= this.readRedis().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async readRedis(): Promise<RedisSnapshot | null> {
    const { store, queues, redis } = this.deps;
    // A command sent while disconnected waits in ioredis's queue until Redis is back;
    // a scrape every few seconds through a long outage would pile them up.
    if (redis && !usable(redis)) return null;
    const all = [
      queues.generate,
      queues.score,
      queues.select,
      ...queues.servedPublishQueues(),
      queues.deadline,
    ];
    try {
      const [phases, ...jobs] = await withTimeout(
        Promise.all([store.rounds.phaseCounts(), ...all.map((q) => q.getJobCounts(...JOB_STATES))]),
        this.deps.redisTimeoutMs ?? REDIS_CHECK_TIMEOUT_MS,
        'redis did not answer',
      );
      return {
        phases,
        jobs: jobs.map((counts, i) => ({ queue: all[i]?.name ?? '', counts })),
      };
    } catch {
      return null;
    }
  }
}

/**
 * False while the connection is known to be down (between tries, or given up); a
 * connection still connecting gets the benefit of the doubt and the timeout.
 */
function usable(redis: Redis): boolean {
  return !['reconnecting', 'close', 'end'].includes(redis.status);
}

export interface HealthServerOptions {
  port: number;
  host?: string;
  redis: Redis;
  queues: PipelineQueues;
  metrics: BotMetrics;
  /**
   * Why a platform connection cannot take events now (e.g. Discord's gateway is down),
   * or null when every configured platform is connected. Absent: none to check.
   */
  platformTrouble?: () => string | null;
}

/** Answers whether Redis and the queues respond, within a short timeout. */
export async function readiness(
  redis: Redis,
  queues: PipelineQueues,
  timeoutMs = REDIS_CHECK_TIMEOUT_MS,
): Promise<{ ok: boolean; detail: string }> {
  if (!usable(redis)) return { ok: false, detail: `redis unreachable: connection ${redis.status}` };
  try {
    await withTimeout(
      Promise.all([redis.ping(), queues.generate.getJobCounts('waiting')]),
      timeoutMs,
      'timed out: no answer',
    );
    return { ok: true, detail: 'redis and queues reachable' };
  } catch (error) {
    return {
      ok: false,
      detail: `redis unreachable: ${errorMessage(error)}`,
    };
  }
}

/** Routes for /healthz, /readyz and /metrics; usable standalone or beside the Slack receiver. */
export function healthRoutes(options: Omit<HealthServerOptions, 'port' | 'host'>) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const path = (req.url ?? '/').split('?')[0];
    // HEAD too: load balancers and uptime checks often probe with it (Node sends no body).
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    if (path === '/healthz') {
      // Alive unless the connection gave up for good, which only a restart mends.
      const ended = options.redis.status === 'end';
      res
        .writeHead(ended ? 503 : 200, { 'content-type': 'text/plain' })
        .end(ended ? 'redis connection ended\n' : 'ok\n');
      return true;
    }
    if (path === '/readyz') {
      const trouble = options.platformTrouble?.() ?? null;
      const ready = trouble
        ? { ok: false, detail: trouble }
        : await readiness(options.redis, options.queues);
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
          .end(`metrics unavailable: ${errorMessage(error)}\n`);
      }
      return true;
    }
    return false;
  };
}

/** Runs the routes on one request: 404 for a path they do not serve, 500 if they throw. */
export function answerHealth(
  routes: ReturnType<typeof healthRoutes>,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  routes(req, res).then(
    (handled) => {
      if (!handled) res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    },
    () => res.writeHead(500).end(),
  );
}

export async function startHealthServer(
  options: HealthServerOptions,
): Promise<{ server: Server; port: number }> {
  const routes = healthRoutes(options);
  const server = createServer((req, res) => answerHealth(routes, req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}
