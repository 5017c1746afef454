/**
 * Counting a member's or a workspace's actions against sliding-window rates, and refusing
 * in words that say when to try again. Start limits and command limits share it, so every
 * refusal reads and logs the same way.
 */
import { DomainError } from '../domain/errors.js';
import { describeWait } from '../domain/limits.js';
import type { Log } from '../domain/log.js';
import type { Scope } from '../domain/scope.js';
import type { Store } from '../store/store.js';

/** One rate: `max` actions per window in `bucket`; 0 = no limit. */
export interface Rate {
  /** The environment variable that sets it, for the log line an operator greps for. */
  setting: string;
  bucket: string;
  max: number;
  windowSeconds: number;
  /** The refusal's first half, e.g. "You have started 2 rounds in the past hour, the most allowed". */
  refusal: (max: number) => string;
}

/**
 * Counts one action against each rate in order and throws `rate_limited` at the first
 * one exceeded; later rates are not counted then, so a member refused does not use up
 * the workspace's allowance.
 */
export async function enforceRates(
  deps: { store: Store; log: Log },
  who: { scope: Scope; userId: string; action: string },
  rates: readonly Rate[],
): Promise<void> {
  for (const rate of rates) {
    if (rate.max <= 0) continue;
    const verdict = await deps.store.limits.hit(who.scope, rate.bucket, {
      max: rate.max,
      windowSeconds: rate.windowSeconds,
    });
    if (verdict.allowed) continue;
    deps.log.info(
      { scope: who.scope, userId: who.userId, retryAfterSeconds: verdict.retryAfterSeconds },
      `${who.action} refused: ${rate.setting}`,
    );
    throw new DomainError(
      'rate_limited',
      `${rate.refusal(rate.max)}; try again in ${describeWait(verdict.retryAfterSeconds)}.`,
    );
  }
}

/** "1 round", "2 rounds". */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
