import type { Redis } from 'ioredis';
import type { Scope } from '../domain/scope.js';
import type { Keys } from './keys.js';
import { LuaScript } from './script.js';

/**
 * Deletes a round and takes it out of the cross-tenant phase counts in one step, so the
 * metrics' rounds-by-phase never count a round that is gone. KEYS: round, phase counts.
 */
const DELETE_ROUND = new LuaScript(
  `local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local ok, round = pcall(cjson.decode, raw)
if ok and type(round) == 'table' and type(round.phase) == 'string' then
  redis.call('HINCRBY', KEYS[2], round.phase, -1)
end
redis.call('DEL', KEYS[1])
return 1`,
  2,
);

export interface TenantSurvey {
  /** Rounds the workspace started. */
  rounds: number;
  /** Keys under the workspace's root (its rounds', the ratings matrix, limits, events). */
  keys: number;
}

/**
 * Everything a workspace (or Discord server) keeps in the store lives under its tenant
 * root (keys.ts); only the phase counts are shared, and they hold counts, no data.
 */
export class TenantEraser {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async survey(scope: Scope): Promise<TenantSurvey> {
    const [rounds, keys] = await Promise.all([
      this.redis.zcard(this.keys.rounds(scope)),
      this.countKeys(scope),
    ]);
    return { rounds, keys };
  }

  /** Deletes every key of the workspace; returns what there was. */
  async erase(scope: Scope): Promise<TenantSurvey> {
    const ids = await this.redis.zrange(this.keys.rounds(scope), '0', '-1');
    let rounds = 0;
    for (const id of ids) {
      const deleted = await DELETE_ROUND.run(
        this.redis,
        this.keys.round(scope, id),
        this.keys.phaseCounts(),
      );
      if (deleted === 1) rounds++;
    }
    let keys = rounds;
    for await (const batch of this.scan(scope)) {
      if (batch.length === 0) continue;
      keys += await this.redis.unlink(...batch);
    }
    return { rounds, keys };
  }

  private async countKeys(scope: Scope): Promise<number> {
    let n = 0;
    for await (const batch of this.scan(scope)) n += batch.length;
    return n;
  }

  /** The workspace's keys in batches. Ids are letters, digits and `._@-`: no glob character. */
  private async *scan(scope: Scope): AsyncGenerator<string[]> {
    let cursor = '0';
    do {
      const [next, batch] = await this.redis.scan(
        cursor,
        'MATCH',
        `${this.keys.tenant(scope)}:*`,
        'COUNT',
        1000,
      );
      cursor = next;
      yield batch;
    } while (cursor !== '0');
  }
}
