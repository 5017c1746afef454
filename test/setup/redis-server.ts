import type { TestProject } from 'vitest/node';
import { startEphemeralRedis } from '../../src/app/redis-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

/**
 * One redis-server for the whole run, on a unix socket in a temp folder, so tests
 * never touch (or depend on) a Redis left running on the machine. With REDIS_URL set,
 * that server is used instead; every test uses its own key prefix either way.
 */
export default async function setup(project: TestProject) {
  const external = process.env.REDIS_URL;
  if (external) {
    project.provide('redisUrl', external);
    return;
  }
  const redis = await startEphemeralRedis();
  project.provide('redisUrl', redis.url);
  return async () => {
    await redis.stop();
  };
}
