import type { Redis } from 'ioredis';
import type { Scope } from '../domain/scope.js';
import type { Keys } from './keys.js';
import { LuaScript } from './script.js';
import { clockArg, SHARED_NOW, type SharedClock } from './shared-clock.js';

export interface StageUsage {
  calls: number;
  promptTokens: number;
  completionTokens: number;
}

/** Model call results a stage run already paid for live this long (a round's lifetime, roughly). */
const MEMO_TTL_SECONDS = 7 * 24 * 3600;

/**
 * Holds `tokens` for `holder` when the round's spent tokens (every stage's prompt and
 * completion tokens) plus every holder's reservations plus `tokens` stay within the
 * budget. Atomic, so parallel calls of one round cannot together overspend.
 */
const RESERVE = new LuaScript(
  `
local spent = 0
local usage = redis.call('HGETALL', KEYS[1])
for i = 1, #usage, 2 do
  local field = usage[i]
  if string.find(field, '%.promptTokens$') or string.find(field, '%.completionTokens$') then
    spent = spent + tonumber(usage[i + 1])
  end
end
for _, held in ipairs(redis.call('HVALS', KEYS[2])) do
  spent = spent + tonumber(held)
end
if spent + tonumber(ARGV[2]) > tonumber(ARGV[3]) then
  return 0
end
redis.call('HINCRBY', KEYS[2], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
`,
  2,
);

/** A finished call's usage under its stage, and its reservation (ARGV[5] > 0) given back. */
const SETTLE = new LuaScript(
  `
redis.call('HINCRBY', KEYS[1], ARGV[1] .. '.calls', ARGV[2])
redis.call('HINCRBY', KEYS[1], ARGV[1] .. '.promptTokens', ARGV[3])
redis.call('HINCRBY', KEYS[1], ARGV[1] .. '.completionTokens', ARGV[4])
if tonumber(ARGV[6]) > 0 then
  redis.call('HINCRBY', KEYS[2], ARGV[5], -tonumber(ARGV[6]))
end
return 1
`,
  2,
);

/**
 * Sliding-window request log: at most ARGV[3] requests in any ARGV[2] ms, by Redis's
 * time (see shared-clock.ts). Returns 0 when a slot was taken, else how many ms until
 * the oldest request leaves the window.
 */
const TAKE_SLOT = new LuaScript(
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
 * Model calls and tokens per round and stage, kept beside the round; and what the model
 * layer needs shared between workers: token reservations against the round's budget,
 * results of calls already paid for, and the request-rate window.
 */
export class UsageRepository {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    /** Tests only: stands in for Redis's clock in the request window. */
    private readonly clock?: SharedClock,
  ) {}

  async add(scope: Scope, roundId: string, stage: string, usage: StageUsage): Promise<void> {
    const key = this.keys.usage(scope, roundId);
    await this.redis
      .multi()
      .hincrby(key, `${stage}.calls`, usage.calls)
      .hincrby(key, `${stage}.promptTokens`, usage.promptTokens)
      .hincrby(key, `${stage}.completionTokens`, usage.completionTokens)
      .exec();
  }

  async byStage(scope: Scope, roundId: string): Promise<Record<string, StageUsage>> {
    const raw = await this.redis.hgetall(this.keys.usage(scope, roundId));
    const out: Record<string, StageUsage> = {};
    for (const [field, value] of Object.entries(raw)) {
      const dot = field.lastIndexOf('.');
      if (dot < 0) continue;
      const stage = field.slice(0, dot);
      const metric = field.slice(dot + 1) as keyof StageUsage;
      const entry = out[stage] ?? { calls: 0, promptTokens: 0, completionTokens: 0 };
      if (metric in entry) entry[metric] = Number(value);
      out[stage] = entry;
    }
    return out;
  }

  /** Prompt plus completion tokens the round has spent, all stages together. */
  async totalTokens(scope: Scope, roundId: string): Promise<number> {
    const stages = await this.byStage(scope, roundId);
    return Object.values(stages).reduce((n, u) => n + u.promptTokens + u.completionTokens, 0);
  }

  /** Holds `tokens` of the round's `budget` for `holder`; false when they do not fit. */
  async reserve(
    scope: Scope,
    roundId: string,
    holder: string,
    tokens: number,
    budget: number,
  ): Promise<boolean> {
    const ok = await RESERVE.run(
      this.redis,
      this.keys.usage(scope, roundId),
      this.reservationsKey(scope, roundId),
      holder,
      Math.ceil(tokens),
      budget,
      MEMO_TTL_SECONDS,
    );
    return ok === 1;
  }

  /** Records a finished call under `stage` and gives back what `holder` reserved for it. */
  async settle(
    scope: Scope,
    roundId: string,
    stage: string,
    holder: string,
    usage: StageUsage,
    reserved: number,
  ): Promise<void> {
    // One script rather than a MULTI of four commands: this runs once per model call, and
    // in a profile of a zero-latency round the MULTIs were a tenth of the worker's CPU.
    await SETTLE.run(
      this.redis,
      this.keys.usage(scope, roundId),
      this.reservationsKey(scope, roundId),
      stage,
      usage.calls,
      usage.promptTokens,
      usage.completionTokens,
      holder,
      Math.ceil(Math.max(0, reserved)),
    );
  }

  /**
   * Drops whatever `holder` still holds: called when a stage run starts, so a run that
   * died mid-call (a crashed worker) does not keep part of the budget forever.
   */
  async releaseReservations(scope: Scope, roundId: string, holder: string): Promise<void> {
    await this.redis.hdel(this.reservationsKey(scope, roundId), holder);
  }

  /** Every result `run` has paid for so far, by key (see the stage ledger). */
  async recallAll(scope: Scope, roundId: string, run: string): Promise<Map<string, string>> {
    return new Map(Object.entries(await this.redis.hgetall(this.memoKey(scope, roundId, run))));
  }

  /**
   * Stores several paid-for results of `run`, and with `expire` (the run's first write)
   * gives them their lifetime. Plain commands, not a MULTI: a MULTI is written on its
   * own, while plain commands share the connection's auto-pipelined writes with the
   * round's other calls; that the expiry could land without the fields (a lost
   * connection) only means an empty key expiring.
   */
  async rememberAll(
    scope: Scope,
    roundId: string,
    run: string,
    entries: ReadonlyMap<string, string>,
    expire = true,
  ): Promise<void> {
    if (entries.size === 0) return;
    const memo = this.memoKey(scope, roundId, run);
    await Promise.all([
      this.redis.hset(memo, entries),
      expire ? this.redis.expire(memo, MEMO_TTL_SECONDS) : null,
    ]);
  }

  /**
   * Takes one request slot in the window at `key` (shared by every worker on this Redis);
   * returns 0 when taken, else the milliseconds to wait before asking again.
   */
  async takeRequestSlot(
    key: string,
    perWindow: number,
    windowMs: number,
    id: string,
  ): Promise<number> {
    const now = clockArg(this.clock);
    const wait = await TAKE_SLOT.run(this.redis, key, now, windowMs, perWindow, id);
    return Number(wait);
  }

  private reservationsKey(scope: Scope, roundId: string): string {
    return `${this.keys.usage(scope, roundId)}:reserved`;
  }

  private memoKey(scope: Scope, roundId: string, run: string): string {
    return `${this.keys.usage(scope, roundId)}:memo:${run}`;
  }
}
