import type { Redis } from 'ioredis';
import type { Log } from '../domain/log.js';
import { type Config, ConfigError, loadConfig, redactUrl } from './config.js';
import { createLogger } from './logger.js';
import { chooseModels } from './models.js';
import { connectRedis, RedisUnavailableError } from './redis.js';
import { createRuntime, type Runtime } from './runtime.js';

/**
 * Runs a long-lived process (bot+workers or workers alone) until SIGTERM/SIGINT, then
 * shuts down gracefully: stop taking jobs, let active ones finish up to the timeout,
 * close queues and Redis, exit 0.
 */
export async function serve(role: 'start' | 'worker'): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
  const log: Log = createLogger(config.LOG_LEVEL).child({ role });
  if (!config.REDIS_URL) {
    console.error(
      'REDIS_URL is not set. Point it at a running Redis, e.g. REDIS_URL=redis://127.0.0.1:6379',
    );
    process.exit(2);
  }
  let redis: Redis;
  try {
    redis = await connectRedis(config.REDIS_URL);
  } catch (error) {
    if (error instanceof RedisUnavailableError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const models = chooseModels(config, log);
  const runtime: Runtime = createRuntime({
    config,
    redis,
    log,
    generator: models.generator,
    rewardModel: models.rewardModel,
    // Slack and Discord adapters register here when configured (their own issues).
    platforms: {},
    runWorkers: true,
  });
  log.info(
    {
      redis: redactUrl(config.REDIS_URL),
      models: models.description,
      workers: runtime.workers.length,
    },
    `${role} running`,
  );
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await runtime.close();
    await Promise.race([
      redis.quit().catch(() => undefined),
      new Promise((r) => setTimeout(r, 1_000)),
    ]);
    redis.disconnect();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
