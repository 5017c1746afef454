import { setMaxListeners } from 'node:events';
import { type Job, UnrecoverableError, WaitingError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { z } from 'zod';
import { DomainError, errorMessage } from '../domain/errors.js';
import type { Log } from '../domain/log.js';
import type { Scope } from '../domain/scope.js';
import {
  ModelSetupError,
  NoUsableOutputError,
  PromptBudgetError,
  RateLimitedError,
  TokenBudgetError,
} from '../models/llm/errors.js';
import {
  type DeadlineJob,
  DeadlineJobSchema,
  GenerateJobSchema,
  type PublishJob,
  PublishJobSchema,
  ScoreJobSchema,
  SelectJobSchema,
  type StageJob,
} from './payloads.js';
import { QUEUE_NAMES } from './queues.js';
import {
  failRun,
  type PipelineMetrics,
  runGenerate,
  runScore,
  runSelect,
  type StageDeps,
} from './stages.js';

export interface WorkerOptions {
  connection: Redis;
  prefix: string;
  concurrency: number;
  log: Log;
  limiter?: { max: number; duration: number };
  metrics?: PipelineMetrics;
  /**
   * Lock duration and stalled-job check interval (WORKER_STALL_INTERVAL_MS): how soon a
   * job held by a worker that died is handed to another. BullMQ's 30 s when unset.
   */
  stallIntervalMs?: number;
  /**
   * Offered each 'error' the worker emits first: true when it was a lost Redis
   * connection, which the process reports once per outage rather than once per try.
   */
  connectionError?: (error: Error) => boolean;
  /** How long a job put back for 429s is kept trying (tests shorten it); see below. */
  rateLimitPatience?: { runs: number; ms: number };
}

/**
 * The model queues (generate, score) need a limiter for a rate limit set by one worker
 * after a 429 (`worker.rateLimit`) to pause every worker of the queue, not just that one.
 * Its own bound is far above any real load: the request rate itself is limited per call
 * (LLM_REQUESTS_PER_MINUTE, see ledger.ts), because a job makes K or N calls, not one.
 */
export const MODEL_QUEUE_LIMITER = { max: 1_000_000, duration: 1_000 } as const;

/**
 * A job put back for 429s more often than this, and for longer than the patience below,
 * counts as failed: a storm that outlasts both is a quota problem, not a burst. Both,
 * because a server that asks for 10 ms waits ran through 50 of them in about a second.
 */
export const MAX_RATE_LIMITED_RUNS = 50;
export const RATE_LIMIT_PATIENCE_MS = 10 * 60_000;

/**
 * The reason a stopping process aborts the jobs it is still running (`closeWorkers`): a
 * job that stops for it goes back to its queue for another worker at once.
 */
export const WORKER_STOPPING = 'this worker process is stopping';

/** The job stopped because its worker is stopping: the abort's reason came back out of it. */
function stoppedBy(signal: AbortSignal | undefined, error: unknown): boolean {
  if (!signal?.aborted || signal.reason !== WORKER_STOPPING) return false;
  return error === WORKER_STOPPING || (error instanceof Error && error.name === 'AbortError');
}

/** What every payload of payloads.ts carries: the round, its workspace and version. */
interface RoundPayload {
  scope: Scope;
  roundId: string;
  version: number;
}

/**
 * The ids a job's log lines carry, so one round (and workspace) can be followed through
 * every stage. Ids only: a payload may hold a notice's text, which stays out of the logs.
 */
function jobFields(job: Job, payload: RoundPayload, queue: string) {
  return {
    // A publish queue is one connection's (`publish.slack.T…`): the stage is still publish.
    stage: queue.split('.')[0],
    jobId: job.id,
    roundId: payload.roundId,
    scope: { platform: payload.scope.platform, workspaceId: payload.scope.workspaceId },
    version: payload.version,
  };
}

/**
 * A worker whose payloads are validated first: a payload that fails its schema can
 * never succeed, so it fails at once (no retry) with the reason logged.
 */
export function validatedWorker<S extends z.ZodType<RoundPayload>>(
  queue: string,
  schema: S,
  handle: (payload: z.infer<S>, job: Job, signal?: AbortSignal) => Promise<void>,
  options: WorkerOptions,
  onFinalFailure?: (payload: z.infer<S>, error: Error) => Promise<void>,
): Worker {
  const log = options.log.child({ queue });
  const worker = new Worker(
    queue,
    async (job: Job, token?: string, signal?: AbortSignal) => {
      const parsed = schema.safeParse(job.data);
      if (!parsed.success) {
        const reason = `invalid ${queue} job payload: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`;
        log.error({ jobId: job.id, reason }, 'job rejected without retry');
        throw new UnrecoverableError(reason);
      }
      const started = performance.now();
      const seconds = () => (performance.now() - started) / 1000;
      const ids = jobFields(job, parsed.data, queue);
      // Every model call of the job listens on it (K samples, N judgements, the waits for
      // a server that is away): dozens at once are expected, not a leak.
      if (signal) setMaxListeners(0, signal);
      try {
        await handle(parsed.data, job, signal);
        const elapsed = seconds();
        options.metrics?.jobFinished(queue, 'completed', elapsed);
        log.debug({ ...ids, durationMs: Math.round(elapsed * 1000) }, 'job finished');
      } catch (error) {
        // Cut off by a stop: left active, the job would wait out the stall interval and
        // count a stall, and a second stop during one slow run would fail the round.
        // Only when the stop is what ended it: a stage that does not listen (publish, select)
        // and fails for its own reason in those last seconds fails as it would have.
        if (token !== undefined && stoppedBy(signal, error)) {
          try {
            await job.moveToWait(token);
          } catch (moveError) {
            log.warn(
              { ...ids, err: errorMessage(moveError) },
              'could not hand the job back; another worker takes it after the stall interval',
            );
            throw error;
          }
          log.info({ ...ids }, 'job handed back to its queue: this worker is stopping');
          options.metrics?.jobFinished(queue, 'handed_back', seconds());
          throw new WaitingError();
        }
        let err = error instanceof Error ? error : new Error(String(error));
        if (err instanceof RateLimitedError) {
          const waitedMs = Date.now() - job.timestamp;
          const patience = options.rateLimitPatience ?? {
            runs: MAX_RATE_LIMITED_RUNS,
            ms: RATE_LIMIT_PATIENCE_MS,
          };
          if (job.attemptsStarted <= patience.runs || waitedMs < patience.ms) {
            log.info(
              { ...ids, waitMs: err.retryAfterMs },
              'model server rate limited; job put back without spending an attempt',
            );
            // Deprecated in favour of queue.rateLimit, which does the same; the worker is
            // what the processor has at hand.
            await worker.rateLimit(err.retryAfterMs);
            options.metrics?.jobFinished(queue, 'rate_limited', seconds());
            throw Worker.RateLimitError();
          }
          err = new UnrecoverableError(
            `the model server kept rate limiting requests (${job.attemptsStarted} tries in ${Math.round(waitedMs / 60_000)} minutes)`,
          );
        } else if (
          err instanceof TokenBudgetError ||
          err instanceof PromptBudgetError ||
          err instanceof ModelSetupError ||
          err instanceof NoUsableOutputError
        ) {
          // Retrying cannot help: the round has no budget left, no prompt fits the prompt
          // budget, the setup is wrong, or every sample was tried and none was usable (a
          // moderator's close starts anew).
          err = new UnrecoverableError(err.message);
        } else if (err instanceof DomainError && err.code === 'not_found') {
          // The round is gone (a Redis that restarted without persistence): no retry finds it.
          err = new UnrecoverableError(err.message);
        }
        const attempts = job.opts.attempts ?? 1;
        const final = err instanceof UnrecoverableError || job.attemptsMade + 1 >= attempts;
        log.warn(
          {
            ...ids,
            attempt: job.attemptsMade + 1,
            attempts,
            final,
            durationMs: Math.round(seconds() * 1000),
            err: err.message,
          },
          'job failed',
        );
        options.metrics?.jobFinished(queue, 'failed', seconds());
        if (final && onFinalFailure) await onFinalFailure(parsed.data, err);
        throw err;
      }
    },
    {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: options.concurrency,
      ...(options.limiter ? { limiter: options.limiter } : {}),
      ...(options.stallIntervalMs
        ? { lockDuration: options.stallIntervalMs, stalledInterval: options.stallIntervalMs }
        : {}),
    },
  );
  worker.on('error', (err) => {
    if (options.connectionError?.(err)) return;
    log.error({ err: err.message }, 'worker error');
  });
  // A job that stalled more often than BullMQ allows (every worker that took it died or
  // lost Redis mid-job, twice) is failed by BullMQ without running the processor, so the
  // catch above never sees it: without this the round would stay "generating" for good.
  worker.on('failed', (job, error) => {
    if (!job?.deferredFailure) return;
    const parsed = schema.safeParse(job.data);
    if (!parsed.success) return;
    const ids = jobFields(job, parsed.data, queue);
    log.error({ ...ids, err: error.message }, 'job failed without running: it stalled too often');
    if (!onFinalFailure) return;
    const reason = new Error(stalledReason(queue));
    onFinalFailure(parsed.data, reason).catch((err: unknown) => {
      log.error(
        { ...ids, err: errorMessage(err) },
        'could not mark the run failed after its job stalled too often',
      );
    });
  });
  return worker;
}

/** What the channel is told when a stage's job was cut off mid-run once too often. */
export function stalledReason(queue: string): string {
  return `the ${queue} step was stopped twice while running (the worker processes running it exited or lost Redis before finishing it)`;
}

/** generate -> score -> select, each its own queue so they scale and retry separately. */
export function startStageWorkers(deps: StageDeps, options: WorkerOptions): Worker[] {
  const fail = (job: StageJob, err: Error) => failRun(deps, job, err.message);
  const modelQueue = { ...options, limiter: MODEL_QUEUE_LIMITER };
  return [
    validatedWorker(
      QUEUE_NAMES.generate,
      GenerateJobSchema,
      (j, _job, signal) => runGenerate(deps, j, signal),
      modelQueue,
      fail,
    ),
    validatedWorker(
      QUEUE_NAMES.score,
      ScoreJobSchema,
      (j, _job, signal) => runScore(deps, j, signal),
      modelQueue,
      fail,
    ),
    validatedWorker(QUEUE_NAMES.select, SelectJobSchema, (j) => runSelect(deps, j), options, fail),
  ];
}

/**
 * Consumed by the process that holds the platform connection; `queue` is that connection's
 * (`publishQueueName`).
 */
export function startPublishWorker(
  queue: string,
  publish: (job: PublishJob) => Promise<void>,
  options: WorkerOptions,
  onFinalFailure?: (job: PublishJob, error: Error) => Promise<void>,
): Worker {
  return validatedWorker(queue, PublishJobSchema, publish, options, onFinalFailure);
}

export function startDeadlineWorker(
  onDeadline: (job: DeadlineJob) => Promise<void>,
  options: WorkerOptions,
): Worker {
  return validatedWorker(QUEUE_NAMES.deadline, DeadlineJobSchema, onDeadline, options);
}

/**
 * How long before the end of a stop the jobs still running are aborted and handed back
 * (`WORKER_STOPPING`): long enough for an aborted model call to return and the job to be
 * moved, short enough that a job about to finish usually does.
 */
export function handBackMs(timeoutMs: number): number {
  return Math.min(3_000, Math.floor(timeoutMs / 3));
}

/**
 * Waits for the running jobs, up to `timeoutMs`; near its end, the ones still running are
 * aborted and go back to their queues (the model stages stop their calls; a stage that
 * does not listen finishes or is cut off as before). BullMQ's close never resolves while
 * Redis is unreachable, so shutdown races it.
 */
export async function closeWorkers(
  workers: readonly Worker[],
  timeoutMs: number,
): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const handBack = setTimeout(
    () => {
      for (const w of workers) w.cancelAllJobs(WORKER_STOPPING);
    },
    Math.max(0, timeoutMs - handBackMs(timeoutMs)),
  );
  const closed = Promise.all(workers.map((w) => w.close())).then(() => true as const);
  const result = await Promise.race([closed, timedOut]);
  clearTimeout(timer);
  clearTimeout(handBack);
  return result;
}
