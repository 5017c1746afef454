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

/**
 * Connects and pings once, failing fast with a message that names REDIS_URL instead of
 * letting ioredis retry forever in the background. BullMQ needs maxRetriesPerRequest: null.
 */
export async function connectRedis(url: string, timeoutMs = 5_000): Promise<Redis> {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: null,
    connectTimeout: timeoutMs,
    // Before the first successful connection, do not retry: report instead.
    retryStrategy: (times) => (times > 20 ? null : Math.min(times * 200, 2_000)),
  });
  redis.on('error', () => {
    // Connection errors surface through connect() or commands; an unhandled 'error'
    // event would crash the process instead.
  });
  try {
    await withTimeout(redis.connect(), timeoutMs);
    await withTimeout(redis.ping(), timeoutMs);
    return redis;
  } catch (error) {
    redis.disconnect();
    throw new RedisUnavailableError(url, error instanceof Error ? error.message : String(error));
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
