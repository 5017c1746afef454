import { Redis } from 'ioredis';
import type { RequestGate } from '../models/llm/client.js';
import { RedisRequestGate } from '../pipeline/request-gate.js';
import type { Config } from './config.js';

/** A lease outlives the request it admits by this much, so only a dead holder's expire. */
const LEASE_MARGIN_MS = 5_000;

/**
 * LLM_CONCURRENCY as a cap across every process on REDIS_URL. `start` and `worker` give
 * it the process's main connection: a call that finishes gives back its place and
 * records its usage in the same turn of the event loop, and on one auto-pipelined
 * connection both go out in one write instead of one each (socket writes were a tenth
 * of a worker's CPU in zero-latency profiles). Without a connection (the demo, tests)
 * the gate opens its own lazy one, opened by the first model request and closed by
 * process.exit. Without REDIS_URL (tests, eval) each process's own limit is the only one.
 */
export function sharedRequestGate(config: Config, connection?: Redis): RequestGate | undefined {
  if (!config.REDIS_URL) return undefined;
  return new RedisRequestGate(
    connection ?? ownConnection(config.REDIS_URL),
    `${config.REDIS_PREFIX}:model-in-flight`,
    {
      cap: config.LLM_CONCURRENCY,
      leaseMs: config.LLM_TIMEOUT_MS + LEASE_MARGIN_MS,
    },
  );
}

function ownConnection(url: string): Redis {
  // Auto-pipelined like the store's connection: a wave of calls takes and gives back its
  // places in the same few turns of the event loop.
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 3,
    enableAutoPipelining: true,
  });
  redis.on('error', () => {
    // Surfaced through the commands the gate sends (the call then fails and is retried).
  });
  return redis;
}
