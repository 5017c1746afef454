import type { Redis } from 'ioredis';
import { ContributionRepository } from './contributions.js';
import { TenantEraser } from './erase.js';
import { EventLog } from './events.js';
import { Keys } from './keys.js';
import { MessageRepository } from './messages.js';
import { PollRepository } from './polls.js';
import { RateLimiter } from './rate-limits.js';
import { RatingsMatrixRepository } from './ratings-matrix.js';
import { RoundRepository } from './rounds.js';
import type { SharedClock } from './shared-clock.js';
import { UsageRepository } from './usage.js';

/** Everything the bot keeps in Redis, under one key root. */
export interface Store {
  rounds: RoundRepository;
  contributions: ContributionRepository;
  polls: PollRepository;
  messages: MessageRepository;
  events: EventLog;
  usage: UsageRepository;
  limits: RateLimiter;
  ratingsMatrix: RatingsMatrixRepository;
  /** `npm run forget`: a workspace's data, all of it. */
  tenants: TenantEraser;
}

/** `clock`, for tests only, stands in for Redis's in the shared rate windows. */
export function createStore(redis: Redis, root = 'dlb', clock?: SharedClock): Store {
  const keys = new Keys(root);
  return {
    rounds: new RoundRepository(redis, keys),
    contributions: new ContributionRepository(redis, keys),
    polls: new PollRepository(redis, keys),
    messages: new MessageRepository(redis, keys),
    events: new EventLog(redis, keys),
    usage: new UsageRepository(redis, keys, clock),
    limits: new RateLimiter(redis, keys, clock),
    ratingsMatrix: new RatingsMatrixRepository(redis, keys),
    tenants: new TenantEraser(redis, keys),
  };
}
