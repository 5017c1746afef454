import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { inject } from 'vitest';

/** A connection to the run's Redis and a key prefix no other test shares. */
export function testRedis(): { url: string; prefix: string; connect(): Redis } {
  const url = inject('redisUrl');
  const prefix = `t${randomUUID().slice(0, 8)}`;
  return {
    url,
    prefix,
    connect: () => new Redis(url, { maxRetriesPerRequest: null, lazyConnect: false }),
  };
}

/** Deletes every key under a prefix (tests clean up after themselves). */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
}
