import { randomInt, randomUUID } from 'node:crypto';
import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { PlatformPort } from '../deliberation/ports.js';
import { createPublisher, publishGaveUp } from '../deliberation/publisher.js';
import { DeliberationService } from '../deliberation/service.js';
import type { Log } from '../domain/log.js';
import type { Platform, Scope } from '../domain/scope.js';
import { BlendedRewardModel } from '../models/blended-reward-model.js';
import type { Generator, RewardModel } from '../models/ports.js';
import { PipelineQueues, publishQueueName, sharedPublishQueue } from '../pipeline/queues.js';
import type { PipelineMetrics } from '../pipeline/stages.js';
import {
  closeWorkers,
  startDeadlineWorker,
  startPublishWorker,
  startStageWorkers,
} from '../pipeline/workers.js';
import { createStore, type Store } from '../store/store.js';
import type { Config } from './config.js';
import { threadLearner } from './learn-thread.js';
import { RedisOutageLog } from './redis.js';

export interface RuntimeOptions {
  config: Config;
  redis: Redis;
  log: Log;
  generator: Generator;
  rewardModel: RewardModel;
  /** Platforms this process owns; it then takes their publish queues (`publishFor`). */
  platforms: Partial<Record<Platform, PlatformPort>>;
  /** Run generate/score/select and deadline workers in this process. */
  runWorkers: boolean;
  now?: () => number;
  /** Each new round's seed (its shuffles and samples); random unless given, as by the demo. */
  newSeed?: () => number;
  /** Receives job durations and model use (the Prometheus metrics of src/app). */
  metrics?: PipelineMetrics;
  /**
   * Reports Redis outages, already watching `redis` (serve() makes it as soon as it has
   * connected); one of the runtime's own otherwise.
   */
  outages?: RedisOutageLog;
}

export interface Runtime {
  store: Store;
  queues: PipelineQueues;
  service: DeliberationService;
  workers: Worker[];
  /**
   * Takes the publish jobs of `scope`'s workspace, posting them with this process's
   * connection to its platform: for a Slack token, once it is known which workspace it
   * is. Done at creation for platforms whose one connection serves every workspace.
   */
  publishFor(scope: Scope): void;
  /**
   * Stops taking jobs, lets running ones finish and closes the queues, all within
   * `timeoutMs` (SHUTDOWN_TIMEOUT_MS unless the caller has less left).
   */
  close(timeoutMs?: number): Promise<void>;
}

/** Round ids are short, key-safe and never all digits (BullMQ job ids). */
export function newRoundId(): string {
  return `r${randomUUID().replaceAll('-', '').slice(0, 10)}`;
}

/** Wires store, queues, service and workers; the only place that picks implementations. */
export function createRuntime(options: RuntimeOptions): Runtime {
  const { config, redis, log } = options;
  const now = options.now ?? Date.now;
  const store = createStore(redis, config.REDIS_PREFIX);
  // BullMQ defines its Lua scripts (~70) as commands on the connection it is given, and
  // ioredis copies every defined command onto each MULTI or pipeline it creates. On one
  // shared connection, each store transaction (several per model call) built ~150
  // closures: the largest source of garbage, ~180 MB, in an allocation profile of a
  // worker running 100 rounds at once. So BullMQ gets its own connection and the
  // store's stays plain (and auto-pipelined, see connectRedis; BullMQ's is not).
  const bull = redis.duplicate({ enableAutoPipelining: false });
  bull.on('error', () => {
    // Surfaced by the queues' and workers' own 'error' events, which are logged below.
  });
  const outages = options.outages ?? watching(new RedisOutageLog(log), redis);
  outages.watch(bull);
  // Without a listener BullMQ prints every connection error as a bare stack trace on
  // stderr (a Redis restart makes dozens); as log lines they stay JSON and countable.
  const queues = new PipelineQueues(bull, {
    prefix: `${config.REDIS_PREFIX}:bull`,
    attempts: config.JOB_ATTEMPTS,
    backoffMs: config.JOB_BACKOFF_MS,
    onError: (queue, err) => {
      if (outages.connectionError(err)) return;
      log.warn({ queue, err: err.message }, 'queue error');
    },
  });
  const service = new DeliberationService({
    store,
    queues,
    log,
    now,
    newId: newRoundId,
    newSeed: options.newSeed ?? (() => randomInt(0, 2 ** 31)),
    limits: {
      startsPerMemberPerHour: config.LIMIT_STARTS_PER_MEMBER_PER_HOUR,
      startsPerWorkspacePerHour: config.LIMIT_STARTS_PER_WORKSPACE_PER_HOUR,
      openRoundsPerChannel: config.MAX_OPEN_ROUNDS_PER_CHANNEL,
      commandsPerMemberPerMinute: config.LIMIT_COMMANDS_PER_MEMBER_PER_MINUTE,
      commandsPerWorkspacePerMinute: config.LIMIT_COMMANDS_PER_WORKSPACE_PER_MINUTE,
      exportsPerMemberPerHour: config.LIMIT_EXPORTS_PER_MEMBER_PER_HOUR,
      exportsPerWorkspacePerHour: config.LIMIT_EXPORTS_PER_WORKSPACE_PER_HOUR,
    },
  });
  const workerOptions = {
    metrics: options.metrics,
    connection: bull,
    prefix: `${config.REDIS_PREFIX}:bull`,
    concurrency: config.WORKER_CONCURRENCY,
    stallIntervalMs: config.WORKER_STALL_INTERVAL_MS,
    log,
    connectionError: (err: Error) => outages.connectionError(err),
  };
  const workers: Worker[] = [];
  // Aborted first thing on close: a learned-model fit in progress would otherwise hold a
  // score job, and so the shutdown, for its whole length.
  const stopLearning = new AbortController();
  if (options.runWorkers) {
    workers.push(
      ...startStageWorkers(
        {
          store,
          queues,
          generator: options.generator,
          rewardModel: learnsFromRatings(options.rewardModel, config, log, stopLearning.signal),
          log,
          now,
          metrics: options.metrics,
        },
        workerOptions,
      ),
      startDeadlineWorker((job) => service.onDeadline(job), workerOptions),
    );
  }
  const publishDeps = { store, service, platforms: options.platforms, log };
  const published = new Set<string>();
  const publishFor = (scope: Scope) => {
    if (!options.platforms[scope.platform]) {
      throw new Error(`no ${scope.platform} connection in this process to publish with`);
    }
    const queue = publishQueueName(scope);
    if (published.has(queue)) return;
    published.add(queue);
    queues.serve(scope);
    workers.push(
      startPublishWorker(
        queue,
        createPublisher(publishDeps),
        workerOptions,
        publishGaveUp(publishDeps),
      ),
    );
  };
  // A connection that posts in every workspace of its platform takes their one queue now;
  // a Slack connection learns its workspace from its token at start (`publishFor`).
  for (const platform of Object.keys(options.platforms) as Platform[]) {
    if (sharedPublishQueue(platform)) publishFor({ platform, workspaceId: platform });
  }
  return {
    store,
    queues,
    service,
    workers,
    publishFor,
    async close(timeoutMs = config.SHUTDOWN_TIMEOUT_MS) {
      stopLearning.abort(new Error('shutting down'));
      outages.close();
      const deadline = Date.now() + timeoutMs;
      const clean = await closeWorkers(workers, timeoutMs);
      if (!clean) log.warn({}, 'workers did not close in time; exiting anyway');
      // Like the workers', the queues' close never resolves while Redis is unreachable.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        queues.close(),
        new Promise((r) => {
          timer = setTimeout(r, Math.min(2_000, Math.max(0, deadline - Date.now())));
        }),
      ]);
      clearTimeout(timer);
      // BullMQ leaves a connection it was given open; this one is the runtime's own.
      bull.disconnect();
    },
  };
}

function watching(outages: RedisOutageLog, connection: Redis): RedisOutageLog {
  outages.watch(connection);
  return outages;
}

/**
 * Whichever reward model was chosen learns from the workspace's ratings once there are
 * LEARNED_MIN_RATINGS of them, fitting in a worker thread, one fit at a time; one
 * already blended (a test's own threshold) is kept. `stop` ends the fits on shutdown,
 * and those rounds are scored by the base model alone.
 */
export function learnsFromRatings(
  model: RewardModel,
  config: Pick<Config, 'LEARNED_MIN_RATINGS' | 'LEARNED_MAX_STATEMENTS' | 'LEARNED_FIT_TIMEOUT_MS'>,
  log: Log,
  stop?: AbortSignal,
): RewardModel {
  return model instanceof BlendedRewardModel
    ? model
    : new BlendedRewardModel(model, {
        minRatings: config.LEARNED_MIN_RATINGS,
        maxStatements: config.LEARNED_MAX_STATEMENTS,
        learn: threadLearner({
          threads: 1,
          timeoutMs: config.LEARNED_FIT_TIMEOUT_MS,
          ...(stop ? { stop } : {}),
        }),
        log,
      });
}
