import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Scope } from '../domain/scope.js';
import type { Keys } from './keys.js';
import { LuaScript } from './script.js';
import { clockArg, SHARED_NOW, type SharedClock } from './shared-clock.js';

export interface LimitRule {
  /** How many actions the window allows. */
  max: number;
  windowSeconds: number;
}

export interface LimitVerdict {
  allowed: boolean;
  /** Seconds until the oldest action counted leaves the window (0 when allowed). */
  retryAfterSeconds: number;
}

/**
 * KEYS[1]: the bucket's sorted set of actions by time, Redis's (see shared-clock.ts).
 * ARGV: the clock's stand-in (empty: Redis's), window (ms), max, a unique member. Drops
 * what left the window, then counts this action if there is room (0), or says in how
 * many ms the oldest one leaves (a refused action is not counted, so asking again does
 * not push the retry back).
 */
const HIT = new LuaScript(
  `${SHARED_NOW}
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
`,
  1,
);

/**
 * Sliding-window limits in Redis, so they hold across every bot process: at most `max`
 * actions in any `windowSeconds`, however they fall. A fixed clock window let a member
 * use a whole hour's allowance in its last second and the next hour's in the first (120
 * starts in two seconds at the default 60 an hour). One script call per check; a
 * bucket holds at most `max` entries, for one window.
 */
export class RateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    /** Tests only: stands in for Redis's clock. */
    private readonly clock?: SharedClock,
  ) {}

  async hit(scope: Scope, bucket: string, rule: LimitRule): Promise<LimitVerdict> {
    const windowMs = rule.windowSeconds * 1000;
    const key = `${this.keys.tenant(scope)}:limit:${bucket}:sliding`;
    const now = clockArg(this.clock);
    const waitMs = Number(await HIT.run(this.redis, key, now, windowMs, rule.max, randomUUID()));
    if (waitMs === 0) return { allowed: true, retryAfterSeconds: 0 };
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
  }
}
