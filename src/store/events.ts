import type { Redis } from 'ioredis';
import type { Scope } from '../domain/scope.js';
import type { Keys } from './keys.js';

/** Platforms redeliver events they think were lost; a day covers Slack's and Discord's retries. */
const EVENT_TTL_SECONDS = 24 * 60 * 60;

export class EventLog {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  /**
   * True the first time an event id is seen in a workspace, false on every repeat within
   * `ttlSeconds` (a day unless said otherwise).
   */
  async firstSeen(scope: Scope, eventId: string, ttlSeconds = EVENT_TTL_SECONDS): Promise<boolean> {
    const ok = await this.redis.set(this.keys.event(scope, eventId), '1', 'EX', ttlSeconds, 'NX');
    return ok === 'OK';
  }

  /** Lets a redelivery of an event through again (its first handling failed). */
  async forget(scope: Scope, eventId: string): Promise<void> {
    await this.redis.del(this.keys.event(scope, eventId));
  }
}
