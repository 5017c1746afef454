import { Redis } from 'ioredis';
import { redactUrl } from './config.js';

export class RedisUnavailableError extends Error {
  constructor(url: string, cause: string) {
    super(
      `Cannot reach Redis at REDIS_URL=${redactUrl(url)} (${cause}). ` +
        'Start Redis or point REDIS_URL at a running one (e.g. redis://127.0.0.1:6379).',
    );
    this.name = 'RedisUnavailableError';
  }
}

/** How a connection that was up tries again after Redis went away. */
export interface ReconnectPolicy {
  /** The first retry waits this long, the second twice as long, and so on up to `maxMs`. */
  stepMs: number;
  /** The longest wait between two tries: how late a Redis that came back is noticed. */
  maxMs: number;
}

export const DEFAULT_RECONNECT: ReconnectPolicy = { stepMs: 200, maxMs: 2_000 };

/**
 * ioredis's retryStrategy. Before the connection was ever ready it gives up (null) at
 * once, so start-up fails fast with a message naming REDIS_URL. Once it has been ready
 * it never gives up: a connection that ends stays dead (status `end`), and so would every
 * BullMQ connection duplicated from it, while /healthz kept answering 200 and nothing
 * restarted the process. An outage of any length must end with everything reconnected.
 */
export function reconnectStrategy(
  wasReady: () => boolean,
  policy: ReconnectPolicy = DEFAULT_RECONNECT,
): (times: number) => number | null {
  return (times) => (wasReady() ? Math.min(times * policy.stepMs, policy.maxMs) : null);
}

/**
 * Connects and pings once, failing fast with a message that names REDIS_URL instead of
 * letting ioredis retry in the background; after that the connection (and each one
 * duplicated from it, which copies the strategy) reconnects forever. BullMQ needs
 * maxRetriesPerRequest: null, which also keeps commands queued through an outage.
 *
 * Commands sent in one turn of the event loop go out in one write (auto-pipelining): a
 * round's model calls finish together and each records itself, and one write per
 * command was a tenth of a worker's CPU in a profile of zero-latency rounds. BullMQ's
 * connection (a duplicate, see runtime.ts) turns it off again, since BullMQ manages its
 * own pipelines and blocking commands.
 */
export async function connectRedis(
  url: string,
  timeoutMs = 5_000,
  reconnect: ReconnectPolicy = DEFAULT_RECONNECT,
): Promise<Redis> {
  let wasReady = false;
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: null,
    enableAutoPipelining: true,
    connectTimeout: timeoutMs,
    retryStrategy: reconnectStrategy(() => wasReady, reconnect),
  });
  redis.on('error', () => {
    // Connection errors surface through connect() or commands; an unhandled 'error'
    // event would crash the process instead.
  });
  try {
    await withTimeout(redis.connect(), timeoutMs);
    await withTimeout(redis.ping(), timeoutMs);
    wasReady = true;
    return redis;
  } catch (error) {
    redis.disconnect();
    throw new RedisUnavailableError(url, error instanceof Error ? error.message : String(error));
  }
}

export async function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  what = 'no answer',
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
