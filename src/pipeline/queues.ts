import { type Job, type JobsOptions, type JobType, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { type Platform, type Scope, ScopeSchema, scopeKey } from '../domain/scope.js';
import {
  type DeadlineJob,
  DeadlineJobSchema,
  jobId,
  type PublishJob,
  PublishJobSchema,
  type StageJob,
} from './payloads.js';

export const QUEUE_NAMES = {
  generate: 'generate',
  score: 'score',
  select: 'select',
  publish: 'publish',
  deadline: 'deadline',
} as const;
export type StageName = 'generate' | 'score' | 'select';

/**
 * Platforms where one connection posts for one workspace only: a Slack bot token is one
 * workspace's (or one organisation's), and a process per workspace may share a Redis.
 * One Discord application posts in every guild it is in, and the console in any.
 */
const CONNECTION_PER_WORKSPACE: Record<Platform, boolean> = {
  slack: true,
  discord: false,
  console: false,
};

/**
 * The publish queue of a scope's messages. Only a process holding that scope's connection
 * may take them: another one would post with the wrong token, be refused, and take the
 * refusal for a channel gone (cancelling the round).
 */
export function publishQueueName(scope: Scope): string {
  return CONNECTION_PER_WORKSPACE[scope.platform]
    ? `${QUEUE_NAMES.publish}.${scope.platform}.${scope.workspaceId}`
    : `${QUEUE_NAMES.publish}.${scope.platform}`;
}

/** Whether a platform's publish queue is the same for every workspace (`publishQueueName`). */
export function sharedPublishQueue(platform: Platform): boolean {
  return !CONNECTION_PER_WORKSPACE[platform];
}

export interface QueueOptions {
  /** BullMQ key prefix; in {braces}, a hash tag that keeps all queue keys in one slot. */
  prefix: string;
  attempts: number;
  backoffMs: number;
  /** Every queue's 'error' events, publish queues made later included. */
  onError?: (queue: string, error: Error) => void;
}

export const DEFAULT_QUEUE_OPTIONS: QueueOptions = {
  prefix: 'dlb:bull',
  attempts: 3,
  backoffMs: 1_000,
};

/** The queues the service and the stages write to; workers consume them elsewhere. */
const DEADLINE_PHASES = DeadlineJobSchema.shape.phase.options;

/** Every state a job can be removed from: all but active (a worker holds its lock). */
const ERASABLE_STATES: readonly JobType[] = [
  'waiting',
  'delayed',
  'prioritized',
  'waiting-children',
  'completed',
  'failed',
];

export class PipelineQueues {
  readonly generate: Queue;
  readonly score: Queue;
  readonly select: Queue;
  readonly deadline: Queue;
  private readonly publishQueues = new Map<string, Queue>();
  private readonly served = new Set<string>();
  private readonly make: (name: string) => Queue;
  private readonly jobOptions: JobsOptions;

  constructor(
    private readonly connection: Redis,
    readonly options: QueueOptions = DEFAULT_QUEUE_OPTIONS,
  ) {
    this.make = (name) => {
      const queue = new Queue(name, { connection, prefix: options.prefix });
      const onError = options.onError;
      if (onError) queue.on('error', (error) => onError(name, error));
      return queue;
    };
    this.generate = this.make(QUEUE_NAMES.generate);
    this.score = this.make(QUEUE_NAMES.score);
    this.select = this.make(QUEUE_NAMES.select);
    this.deadline = this.make(QUEUE_NAMES.deadline);
    this.jobOptions = {
      attempts: options.attempts,
      backoff: { type: 'exponential', delay: options.backoffMs },
      removeOnComplete: { age: 24 * 3600, count: 10_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    };
  }

  /**
   * Enqueues a stage. The job id names round, version, attempt and stage, so a stage
   * that is re-delivered or re-enqueued after a crash adds nothing twice.
   */
  async enqueueStage(stage: StageName, job: StageJob): Promise<void> {
    const id = jobId(stage, scopeKey(job.scope), job.roundId, `v${job.version}`, `a${job.attempt}`);
    await this[stage].add(stage, job, { ...this.jobOptions, jobId: id });
  }

  /** The queue a scope's messages are published through (`publishQueueName`). */
  publishQueue(scope: Scope): Queue {
    const name = publishQueueName(scope);
    let queue = this.publishQueues.get(name);
    if (!queue) {
      queue = this.make(name);
      this.publishQueues.set(name, queue);
    }
    return queue;
  }

  /** Marks a scope's publish queue as taken by this process (its metrics report it). */
  serve(scope: Scope): Queue {
    const queue = this.publishQueue(scope);
    this.served.add(queue.name);
    return queue;
  }

  /** The publish queues this process takes jobs from. */
  servedPublishQueues(): Queue[] {
    return [...this.publishQueues.values()].filter((q) => this.served.has(q.name));
  }

  /** `once` makes a publish idempotent (a statement is posted once); progress edits repeat. */
  async enqueuePublish(job: PublishJob, once: string | null): Promise<void> {
    const valid = PublishJobSchema.parse(job);
    const options: JobsOptions = {
      ...this.jobOptions,
      attempts: Math.max(this.options.attempts, 5),
    };
    if (once) options.jobId = jobId('pub', scopeKey(job.scope), job.roundId, once);
    await this.publishQueue(valid.scope).add(valid.kind, valid, options);
  }

  /**
   * Moves the messages a version with one `publish` queue left waiting in it (or delayed)
   * to each one's connection queue, so an upgrade posts them. A process runs it at start;
   * a job is moved only by the process that claimed it, so processes starting together
   * move each job once. Returns how many it moved.
   */
  async moveLegacyPublishJobs(now: number = Date.now()): Promise<number> {
    const legacy = this.make(QUEUE_NAMES.publish);
    let moved = 0;
    try {
      for (const job of await legacy.getJobs(['waiting', 'delayed', 'prioritized'])) {
        const parsed = PublishJobSchema.safeParse(job.data);
        if (!parsed.success) continue;
        // BullMQ's remove succeeds on a job already removed: a key claims the move.
        const claim = `${this.options.prefix}:${QUEUE_NAMES.publish}:moved:${job.id}`;
        if ((await this.connection.set(claim, '1', 'EX', 24 * 3600, 'NX')) !== 'OK') continue;
        const removed = await job.remove().then(
          () => true,
          () => false, // An old worker runs it right now: it is posted there.
        );
        if (!removed) continue;
        const due = job.timestamp + (job.delay ?? 0);
        await this.publishQueue(parsed.data.scope).add(job.name, parsed.data, {
          ...this.jobOptions,
          attempts: Math.max(this.options.attempts, 5),
          delay: Math.max(0, due - now),
          // An idempotent message keeps its id (`pub-…`); BullMQ's own ids are numbers.
          ...(job.id && !/^\d+$/.test(job.id) ? { jobId: job.id } : {}),
        });
        moved++;
      }
    } finally {
      await legacy.close();
    }
    return moved;
  }

  /** Whether an idempotent publish gave up (failed its last attempt) and is still kept. */
  async publishGaveUp(job: Pick<PublishJob, 'scope' | 'roundId'>, once: string): Promise<boolean> {
    const existing = await this.publishJob(job, once);
    return existing !== undefined && (await existing.getState()) === 'failed';
  }

  private publishJob(job: Pick<PublishJob, 'scope' | 'roundId'>, once: string) {
    return this.publishQueue(job.scope).getJob(
      jobId('pub', scopeKey(job.scope), job.roundId, once),
    );
  }

  /**
   * Runs an idempotent publish once more after it gave up (a permission it lacked was
   * restored): 'retried' when it had failed, or is gone and so is added again; 'pending'
   * while it still waits or runs; 'done' when it completed.
   */
  async retryPublish(job: PublishJob, once: string): Promise<'retried' | 'pending' | 'done'> {
    const existing = await this.publishJob(job, once);
    if (!existing) {
      await this.enqueuePublish(job, once);
      return 'retried';
    }
    const state = await existing.getState();
    if (state === 'completed') return 'done';
    if (state !== 'failed') return 'pending';
    await existing.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    return 'retried';
  }

  /**
   * Per phase and version: a deadline that starts the next phase (a poll's deadline that
   * opens a critique round) runs while the next deadline is added, and BullMQ ignores an
   * add whose id belongs to a job that still exists.
   */
  private deadlineId(job: Pick<DeadlineJob, 'scope' | 'roundId' | 'phase' | 'version'>): string {
    return jobId('deadline', scopeKey(job.scope), job.roundId, job.phase, `v${job.version}`);
  }

  private reminderId(job: Pick<DeadlineJob, 'scope' | 'roundId' | 'version'>): string {
    return jobId('reminder', scopeKey(job.scope), job.roundId, `v${job.version}`);
  }

  /** One deadline per round: scheduling again replaces the previous one. */
  async scheduleDeadline(job: DeadlineJob, at: number, now: number): Promise<void> {
    const valid = DeadlineJobSchema.parse({ ...job, at });
    const id = this.deadlineId(valid);
    await this.cancelDeadline(valid);
    // The previous one is running (it fired as this was moved): BullMQ would ignore an add
    // under its id, and the new deadline would never fire. Under an id of its own it does;
    // the running one sees its `at` is no longer the round's and does nothing.
    const running = await this.deadline.getJob(id);
    await this.deadline.add('deadline', valid, {
      jobId: running ? jobId(id, `at${at}`) : id,
      delay: Math.max(0, at - now),
      attempts: this.options.attempts,
      backoff: { type: 'exponential', delay: this.options.backoffMs },
      removeOnComplete: true,
      removeOnFail: { age: 7 * 24 * 3600 },
    });
  }

  /**
   * A reminder during a poll, on the deadline queue but with an id of its own per version,
   * so it neither replaces nor is replaced by the round's deadline. Scheduling it again
   * (a retried publish) keeps the first one.
   */
  async scheduleReminder(job: DeadlineJob, at: number, now: number): Promise<void> {
    const valid = DeadlineJobSchema.parse({ ...job, kind: 'reminder' });
    await this.deadline.add('reminder', valid, {
      jobId: this.reminderId(valid),
      delay: Math.max(0, at - now),
      attempts: this.options.attempts,
      backoff: { type: 'exponential', delay: this.options.backoffMs },
      removeOnComplete: true,
      removeOnFail: { age: 7 * 24 * 3600 },
    });
  }

  /** Removes a poll's pending reminder: the round finished, was cancelled or went to critique. */
  async cancelReminder(job: Pick<DeadlineJob, 'scope' | 'roundId' | 'version'>): Promise<void> {
    const existing = await this.deadline.getJob(this.reminderId(job));
    // One firing now is locked; it checks the round's phase and says nothing.
    if (existing && !(await existing.isActive())) await existing.remove();
  }

  /**
   * Removes the round's pending deadline. A round's deadlines are all scheduled at its
   * current version (the version only moves when a new poll opens), so the candidates are
   * the three phases at that version.
   */
  async cancelDeadline(job: Pick<DeadlineJob, 'scope' | 'roundId' | 'version'>): Promise<void> {
    for (const phase of DEADLINE_PHASES) {
      const existing = await this.deadline.getJob(this.deadlineId({ ...job, phase }));
      // A deadline that is running right now is locked; it will see the new phase and stop.
      if (existing && !(await existing.isActive())) await existing.remove();
    }
  }

  /**
   * Removes a workspace's jobs from every queue (its rounds' stages, deadlines, reminders
   * and messages, waiting or kept as finished). A job a worker runs now cannot be removed:
   * while there is one (`active`), nothing is, so a round is never left without its
   * deadline while its data stays.
   */
  async removeJobsOf(scope: Scope): Promise<{ removed: number; active: number }> {
    const queues = [
      this.generate,
      this.score,
      this.select,
      this.deadline,
      this.publishQueue(scope),
      // What an older version left in its one publish queue, until a start moves it.
      this.make(QUEUE_NAMES.publish),
    ];
    const ours = (job: Job) => {
      const parsed = ScopeSchema.safeParse((job.data as { scope?: unknown } | undefined)?.scope);
      return (
        parsed.success &&
        parsed.data.platform === scope.platform &&
        parsed.data.workspaceId === scope.workspaceId
      );
    };
    let removed = 0;
    let active = 0;
    try {
      for (const queue of queues) active += (await queue.getJobs(['active'])).filter(ours).length;
      if (active > 0) return { removed, active };
      for (const queue of queues) {
        for (const job of (await queue.getJobs([...ERASABLE_STATES])).filter(ours)) {
          await job.remove();
          removed++;
        }
      }
    } finally {
      await queues.at(-1)?.close();
    }
    return { removed, active };
  }

  async close(): Promise<void> {
    await Promise.all([
      this.generate.close(),
      this.score.close(),
      this.select.close(),
      ...[...this.publishQueues.values()].map((q) => q.close()),
      this.deadline.close(),
    ]);
  }
}
