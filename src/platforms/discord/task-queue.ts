/**
 * The adapter's work in flight. Gateway handlers return at once and the work runs later, so
 * something has to keep one channel's events in arrival order, log what fails (a listener
 * has nobody to throw to) and know when all of it is done (tests and shutdown wait for that).
 */
import type { Log } from '../../domain/log.js';
import { describeError } from './errors.js';

export class TaskQueue {
  private readonly chains = new Map<string, Promise<void>>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly log: Log) {}

  /** Runs `task` after every earlier task of the same key; a failure is logged, never thrown. */
  inOrder(key: string, task: () => Promise<void>): Promise<void> {
    const previous = this.chains.get(key) ?? Promise.resolve();
    const next = previous.then(task).catch((error: unknown) => {
      this.log.error(describeError(error), 'discord event failed');
    });
    this.chains.set(key, next);
    this.track(
      next.finally(() => {
        if (this.chains.get(key) === next) this.chains.delete(key);
      }),
    );
    return next;
  }

  track(work: Promise<void>): void {
    const tracked = work.catch((error: unknown) => {
      this.log.error(describeError(error), 'discord command failed');
    });
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
  }

  /** Resolves when every task tracked so far, and any it started meanwhile, has finished. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }
}
