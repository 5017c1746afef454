import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { RequestGate } from '../models/llm/client.js';
import { LuaScript } from '../store/script.js';

/**
 * Takes a place when fewer than ARGV[3] unexpired leases exist. Leases are members of a
 * sorted set scored by their expiry, so a worker that dies holding places frees them
 * when its leases run out instead of shrinking the cap forever. Returns 1 when taken.
 */
const TAKE = new LuaScript(
  `
local now = tonumber(ARGV[1])
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

export interface RedisRequestGateOptions {
  /** Requests in flight across every process sharing `key`. */
  cap: number;
  /** Longer than one request may take (its timeout), so a live request never loses its place. */
  leaseMs: number;
  /** How often a waiter asks again. Only a process's own `LLM_CONCURRENCY` callers wait here. */
  pollMs?: number;
  now?: () => number;
}

/**
 * The global cap on model requests in flight (LLM_CONCURRENCY across every worker on one
 * Redis). Waiters poll rather than block on a list: a released place would otherwise
 * need a wake-up per waiter, and a lost wake-up (a crashed worker) would stall them.
 */
export class RedisRequestGate implements RequestGate {
  private readonly pollMs: number;
  private readonly now: () => number;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly options: RedisRequestGateOptions,
  ) {
    this.pollMs = options.pollMs ?? 5;
    this.now = options.now ?? Date.now;
  }

  async acquire(signal?: AbortSignal): Promise<() => Promise<void>> {
    const id = randomUUID();
    for (;;) {
      signal?.throwIfAborted();
      const taken = await TAKE.run(
        this.redis,
        this.key,
        this.now(),
        this.options.leaseMs,
        this.options.cap,
        id,
      );
      if (Number(taken) === 1) {
        return async () => {
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
    await this.redis.zremrangebyscore(this.key, '-inf', this.now());
    return this.redis.zcard(this.key);
  }
}
