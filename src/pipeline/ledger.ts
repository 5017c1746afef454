import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CallLedger, Usage } from '../models/ports.js';
import type { Store } from '../store/store.js';
import type { StageJob } from './payloads.js';

/** The window a requests-per-minute limit is counted over. */
const MINUTE_MS = 60_000;

/**
 * The ledger a stage run hands its model: every call is recorded under the round and
 * stage as it is made (so a job that fails half-way still accounts for what it spent),
 * tokens are reserved against the round's budget, and results are remembered per run
 * (round, version, attempt, stage), so a job put back after a 429 pays only for the
 * calls it had not made yet.
 */
export function stageLedger(
  store: Store,
  job: StageJob,
  stage: 'generate' | 'score',
  /** Key of the request window every worker on this Redis shares (on Redis's clock). */
  requestWindowKey: string,
): CallLedger {
  const { scope, roundId } = job;
  const run = ledgerHolder(job, stage);
  // What this run already paid for is read once, now, alongside the stage's other reads:
  // a round asks for one result per call (per member in a judge batch), and a round trip
  // for each of a thousand members stood between the judge stage starting and its first
  // request. Only this run writes under its name, so the copy stays true while it lasts.
  const paid = store.usage.recallAll(scope, roundId, run);
  // Awaited by the first look-up; a failure surfaces there, not as an unhandled rejection.
  paid.catch(() => undefined);
  const known = () => paid;
  const mine = new Map<string, string>();
  // Results remembered in one turn of the event loop (a judge batch's members) are
  // written together, in one transaction.
  let pending: Map<string, string> | null = null;
  let written: Promise<void> = Promise.resolve();
  // The run's results live as long as its first write said; later writes need not repeat it.
  let lifetimeSet = false;
  return {
    async awaitSlot(perMinute, signal) {
      for (;;) {
        signal?.throwIfAborted();
        const wait = await store.usage.takeRequestSlot(
          requestWindowKey,
          perMinute,
          MINUTE_MS,
          randomUUID(),
        );
        if (wait === 0) return;
        // The caller's reason (a 429 elsewhere, a cancelled job), not a bare AbortError.
        await sleep(wait, undefined, { signal }).catch((error: unknown) => {
          throw signal?.reason ?? error;
        });
      }
    },
    reserve: (tokens, budget) => store.usage.reserve(scope, roundId, run, tokens, budget),
    settle: (usage: Usage, reserved) =>
      store.usage.settle(scope, roundId, stage, run, usage, reserved),
    recall: async (key) => mine.get(key) ?? (await known()).get(key) ?? null,
    remember(key, value) {
      mine.set(key, value);
      if (!pending) {
        const batch = new Map<string, string>();
        pending = batch;
        written = Promise.resolve().then(() => {
          pending = null;
          const first = !lifetimeSet;
          return store.usage.rememberAll(scope, roundId, run, batch, first).then(() => {
            lifetimeSet = true;
          });
        });
      }
      pending.set(key, value);
      return written;
    },
  };
}

/** Names a stage run: its reservations and remembered results are kept under it. */
export function ledgerHolder(job: StageJob, stage: 'generate' | 'score'): string {
  return `v${job.version}-a${job.attempt}-${stage}`;
}
