/**
 * The platform-neutral frame of an adapter's catch-up: after it was offline, an adapter
 * rereads each open round's replies and poll reactions from its platform (how is its own
 * business) and reports what changed in one shape, whichever platform it is.
 */
import type { Log } from '../domain/log.js';
import type { ReplyOutcome } from './ingest.js';

/** What one round's catch-up did, for the log. */
export interface CatchUpReport {
  roundId: string;
  messagesRead: number;
  replies: Partial<Record<ReplyOutcome['status'], number>>;
  repliesRemoved: number;
  ratingsAdded: number;
  ratingsRemoved: number;
  /** A cap was reached: what lies beyond it was left as the store had it. */
  capped: boolean;
}

export interface CatchUpParts {
  replies(report: CatchUpReport): Promise<void>;
  ratings(report: CatchUpReport): Promise<void>;
}

/**
 * Runs a round's two catch-up parts, each on its own: one failing (a thread deleted, a
 * scope or permission missing) is logged and must not stop the other.
 */
export async function catchUpRound(
  roundId: string,
  log: Log,
  describe: (error: unknown) => Record<string, unknown>,
  parts: CatchUpParts,
): Promise<CatchUpReport> {
  const report: CatchUpReport = {
    roundId,
    messagesRead: 0,
    replies: {},
    repliesRemoved: 0,
    ratingsAdded: 0,
    ratingsRemoved: 0,
    capped: false,
  };
  for (const [part, run] of [
    ['replies', parts.replies],
    ['ratings', parts.ratings],
  ] as const) {
    try {
      await run(report);
    } catch (error) {
      log.warn({ roundId, ...describe(error) }, `could not catch up on the ${part} of a round`);
    }
  }
  return report;
}
