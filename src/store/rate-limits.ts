import type { Redis } from 'ioredis';
import type { Scope } from '../domain/scope.js';
import type { Keys } from './keys.js';

export interface LimitRule {
  /** How many actions the window allows. */
  max: number;
  windowSeconds: number;
}

export interface LimitVerdict {
  allowed: boolean;
  /** Seconds until the window resets (0 when allowed). */
  retryAfterSeconds: number;
}

/**
 * Fixed-window counters in Redis, so limits hold across every bot process. One INCR and
 * one EXPIRE per check: cheap enough to run on every command.
 */
export class RateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async hit(scope: Scope, bucket: string, rule: LimitRule, now: number): Promise<LimitVerdict> {
    const window = Math.floor(now / 1000 / rule.windowSeconds);
    const key = `${this.keys.tenant(scope)}:limit:${bucket}:${window}`;
    const [[, count]] = (await this.redis
      .multi()
      .incr(key)
      .expire(key, rule.windowSeconds + 1)
      .exec()) as [[Error | null, number], [Error | null, number]];
    if (count <= rule.max) return { allowed: true, retryAfterSeconds: 0 };
    const resetsAt = (window + 1) * rule.windowSeconds;
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(resetsAt - now / 1000)) };
  }
}
