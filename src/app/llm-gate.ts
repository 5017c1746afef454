import { Redis } from 'ioredis';
import type { RequestGate } from '../models/llm/client.js';
import { RedisRequestGate } from '../pipeline/request-gate.js';
import type { Config } from './config.js';

/** A lease outlives the request it admits by this much, so only a dead holder's expire. */
const LEASE_MARGIN_MS = 5_000;

/**
 * LLM_CONCURRENCY as a cap across every process on REDIS_URL. The gate has its own lazy
 * connection (opened by the first model request), because the models are chosen before
 * the process's main connection exists; `start`, `worker` and `demo` end with
 * process.exit, which closes it. Without REDIS_URL (tests, eval) each process's own
 * limit is the only one.
 */
export function sharedRequestGate(config: Config): RequestGate | undefined {
  if (!config.REDIS_URL) return undefined;
  // Auto-pipelined like the store's connection: a wave of calls takes and gives back its
  // places in the same few turns of the event loop.
  const redis = new Redis(config.REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 3,
    enableAutoPipelining: true,
  });
  redis.on('error', () => {
    // Surfaced through the commands the gate sends (the call then fails and is retried).
  });
  return new RedisRequestGate(redis, `${config.REDIS_PREFIX}:model-in-flight`, {
    cap: config.LLM_CONCURRENCY,
    leaseMs: config.LLM_TIMEOUT_MS + LEASE_MARGIN_MS,
  });
}
