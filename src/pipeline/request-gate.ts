import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { RequestGate } from '../models/llm/client.js';
import { LuaScript } from '../store/script.js';
import { clockArg, SHARED_NOW, type SharedClock } from '../store/shared-clock.js';

/**
 * Takes a place when fewer than ARGV[3] unexpired leases exist. Leases are members of a
 * sorted set scored by their expiry, so a worker that dies holding places frees them
 * when its leases run out instead of shrinking the cap forever. Expiries are Redis's
 * time (see shared-clock.ts): a worker whose clock ran ahead took others' live leases
 * for expired ones. Returns 1 when taken.
 */
const TAKE = new LuaScript(
  `${SHARED_NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`,
  1,
);

/**
 * Moves a live lease's expiry on by ARGV[2] ms, and only a lease still there: one that
 * already expired may have been given to another process, and must not come back.
 */
const RENEW = new LuaScript(
  `${SHARED_NOW}
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then
  redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`,
  1,
);

/** Drops expired leases and counts the rest. */
const COUNT = new LuaScript(
  `${SHARED_NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])
`,
  1,
);

export interface RedisRequestGateOptions {
  /** Requests in flight across every process sharing `key`. */
  cap: number;
  /**
   * How long a place outlives its holder's last sign of life. A holder renews its lease
   * every third of this while it holds the place (a request may wait for a
   * requests-per-minute slot for a minute or more before it is even sent), so only the
   * places of a process that died, or froze for this long, expire.
   */
  leaseMs: number;
  /** How often a waiter asks again. Only a process's own `LLM_CONCURRENCY` callers wait here. */
  pollMs?: number;
  /** Tests only: stands in for Redis's clock, so that a lease expires without a wait. */
  clock?: SharedClock;
}

/**
 * The global cap on model requests in flight (LLM_CONCURRENCY across every worker on one
 * Redis). Waiters poll rather than block on a list: a released place would otherwise
 * need a wake-up per waiter, and a lost wake-up (a crashed worker) would stall them.
 */
export class RedisRequestGate implements RequestGate {
  private readonly pollMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly options: RedisRequestGateOptions,
  ) {
    this.pollMs = options.pollMs ?? 5;
  }

  async acquire(signal?: AbortSignal): Promise<() => Promise<void>> {
    const id = randomUUID();
    for (;;) {
      signal?.throwIfAborted();
      const taken = await TAKE.run(
        this.redis,
        this.key,
        clockArg(this.options.clock),
        this.options.leaseMs,
        this.options.cap,
        id,
      );
      if (Number(taken) === 1) {
        // The lease was sized for one request, but the place is held for as long as the
        // caller keeps it, which includes its wait for a request slot under
        // LLM_REQUESTS_PER_MINUTE: without renewal that wait let the lease expire and
        // another process take the place, and both requests then ran at once.
        const renew = setInterval(
          () => {
            const now = clockArg(this.options.clock);
            RENEW.run(this.redis, this.key, now, this.options.leaseMs, id).catch(() => {
              // Tried again on the next tick: the lease lasts leaseMs from the last
              // renewal that reached Redis, as a dead process's does from its last.
            });
          },
          Math.max(1, Math.floor(this.options.leaseMs / 3)),
        );
        renew.unref();
        return async () => {
          clearInterval(renew);
          await this.redis.zrem(this.key, id);
        };
      }
      // The caller's reason (a 429 in a sibling call), not a bare AbortError.
      await sleep(this.pollMs, undefined, { signal }).catch((error: unknown) => {
        throw signal?.reason ?? error;
      });
    }
  }

  /** Places taken right now (tests and the benchmark). */
  async inFlight(): Promise<number> {
    return Number(await COUNT.run(this.redis, this.key, clockArg(this.options.clock)));
  }
}
