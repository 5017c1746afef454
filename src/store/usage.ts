import type { Redis } from 'ioredis';
import type { Scope } from '../domain/scope.js';
import type { Keys } from './keys.js';

export interface StageUsage {
  calls: number;
  promptTokens: number;
  completionTokens: number;
}

/** Model calls and tokens per round and stage, kept beside the round. */
export class UsageRepository {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
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
      const stage = field.slice(0, dot);
      const metric = field.slice(dot + 1) as keyof StageUsage;
      const entry = out[stage] ?? { calls: 0, promptTokens: 0, completionTokens: 0 };
      if (metric in entry) entry[metric] = Number(value);
      out[stage] = entry;
    }
    return out;
  }
}
