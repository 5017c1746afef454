import type { Server } from 'node:http';
import type { Redis } from 'ioredis';
import type { PlatformPort } from '../deliberation/ports.js';
import type { Log } from '../domain/log.js';
import type { Platform } from '../domain/scope.js';
import { type Config, ConfigError, loadConfig, redactUrl } from './config.js';
import type { DiscordConnection } from './discord.js';
import { type DiscordConfig, loadDiscordConfig } from './discord-config.js';
import { createLogger } from './logger.js';
import { chooseModels } from './models.js';
import { BotMetrics, healthRoutes, startHealthServer } from './observability.js';
import { connectRedis, RedisUnavailableError } from './redis.js';
import { createRuntime, type Runtime } from './runtime.js';
import type { SlackConnection } from './slack.js';
import { loadSlackConfig, type SlackConfig } from './slack-config.js';

function exitWith(code: number, message: string): never {
  console.error(message);
  process.exit(code);
}

/**
 * Runs a long-lived process until SIGTERM/SIGINT: `start` holds the platform connections
 * (and, unless RUN_WORKERS=false, the pipeline workers); `worker` runs workers alone.
 * Shutdown stops taking events, lets active jobs finish up to the timeout, closes
 * queues and Redis, and exits 0.
 */
export async function serve(role: 'start' | 'worker'): Promise<void> {
  let config: Config;
  let slackConfig: SlackConfig | null;
  let discordConfig: DiscordConfig | null;
  try {
    config = loadConfig();
    // Only the bot process holds platform connections; `npm run worker` never posts.
    slackConfig = role === 'start' ? loadSlackConfig() : null;
    discordConfig = role === 'start' ? loadDiscordConfig() : null;
  } catch (error) {
    if (error instanceof ConfigError) exitWith(2, error.message);
    throw error;
  }
  const log: Log = createLogger(config.LOG_LEVEL).child({ role });
  if (!config.REDIS_URL) {
    exitWith(
      2,
      'REDIS_URL is not set. Point it at a running Redis, e.g. REDIS_URL=redis://127.0.0.1:6379',
    );
  }
  let redis: Redis;
  try {
    redis = await connectRedis(config.REDIS_URL);
  } catch (error) {
    if (error instanceof RedisUnavailableError) exitWith(1, error.message);
    throw error;
  }

  const models = chooseModels(config, log);
  const runWorkers = role === 'worker' || config.RUN_WORKERS;
  // Routes close over the runtime, which exists only once the platforms are built.
  let runtimeRef: Runtime | null = null;
  let metricsRef: BotMetrics | null = null;
  const route = (path: string) => ({
    path,
    handler: (
      req: import('node:http').IncomingMessage,
      res: import('node:http').ServerResponse,
    ) => {
      if (!runtimeRef || !metricsRef) {
        res.writeHead(503).end('starting\n');
        return;
      }
      void healthRoutes({ redis, queues: runtimeRef.queues, metrics: metricsRef })(req, res);
    },
  });
  // The platform SDKs are imported only when configured: discord.js and Bolt are ~60 MiB of
  // a process's RSS, and a `worker` never holds a platform connection.
  const slack: SlackConnection | null = slackConfig
    ? (await import('./slack.js')).createSlack(slackConfig, {
        log,
        routes: [route('/healthz'), route('/readyz'), route('/metrics')],
      })
    : null;

  const discordModule = discordConfig ? await import('./discord.js') : null;
  const discord: DiscordConnection | null =
    discordConfig && discordModule ? discordModule.createDiscord(discordConfig, { log }) : null;

  const platforms: Partial<Record<Platform, PlatformPort>> = {};
  if (slack) platforms.slack = slack.port;
  if (discord) platforms.discord = discord.port;

  let metrics: BotMetrics | undefined;
  const runtime: Runtime = createRuntime({
    config,
    redis,
    log,
    generator: models.generator,
    rewardModel: models.rewardModel,
    platforms,
    runWorkers,
    metrics: {
      modelUsage: (stage, usage) => metrics?.modelUsage(stage, usage),
      jobFinished: (queue, outcome, seconds) => metrics?.jobFinished(queue, outcome, seconds),
    },
  });
  metrics = new BotMetrics({ store: runtime.store, queues: runtime.queues });
  runtimeRef = runtime;
  metricsRef = metrics;

  let slackPort: number | null = null;
  if (slack) {
    try {
      slackPort = (await slack.start(runtime.service)).port;
    } catch (error) {
      await runtime.close();
      redis.disconnect();
      exitWith(1, error instanceof Error ? error.message : String(error));
    }
  }
  if (discord) {
    try {
      await discord.start(runtime.service);
    } catch (error) {
      if (!discordModule || !(error instanceof discordModule.DiscordStartError)) throw error;
      await slack?.stop(1_000).catch(() => undefined);
      await runtime.close();
      redis.disconnect();
      exitWith(1, error.message);
    }
  }
  // Health and metrics ride on the Slack HTTP listener when there is one; otherwise they
  // get their own server on METRICS_PORT, or PORT.
  let healthServer: Server | null = null;
  let healthPort: number | null = slackPort;
  if (slackPort === null) {
    const port = config.METRICS_PORT ?? config.PORT;
    const started = await startHealthServer({ port, redis, queues: runtime.queues, metrics }).catch(
      (error: unknown) =>
        exitWith(
          1,
          `Cannot serve /healthz on port ${port}: ${error instanceof Error ? error.message : String(error)}`,
        ),
    );
    healthServer = started.server;
    healthPort = started.port;
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    // Inbound events stop first; the ports still post while the publish worker drains.
    await Promise.all([
      slack?.stop(config.SHUTDOWN_TIMEOUT_MS).catch(() => undefined),
      discord?.stop(config.SHUTDOWN_TIMEOUT_MS).catch(() => undefined),
    ]);
    await runtime.close();
    await new Promise((resolve) =>
      healthServer ? healthServer.close(resolve) : resolve(undefined),
    );
    await Promise.race([
      redis.quit().catch(() => undefined),
      new Promise((r) => setTimeout(r, 1_000)),
    ]);
    redis.disconnect();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  // Logged last: whoever waits for this line may signal the process right away.
  log.info(
    {
      redis: redactUrl(config.REDIS_URL),
      models: models.description,
      workers: runtime.workers.length,
      slack: slackConfig ? (slackConfig.appToken ? 'socket-mode' : `http:${slackPort}`) : 'off',
      discord: discord ? 'on' : 'off',
      health: healthPort,
    },
    `${role} running`,
  );
}
