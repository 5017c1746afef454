import type { Server } from 'node:http';
import type { Redis } from 'ioredis';
import type { PlatformPort } from '../deliberation/ports.js';
import { errorMessage } from '../domain/errors.js';
import type { Log } from '../domain/log.js';
import type { Platform } from '../domain/scope.js';
import { type Config, ConfigError, healthPort, loadConfig, redactUrl } from './config.js';
import type { DiscordConnection } from './discord.js';
import { type DiscordConfig, loadDiscordConfig } from './discord-config.js';
import { createLogger } from './logger.js';
import { chooseModels } from './models.js';
import { answerHealth, BotMetrics, healthRoutes, startHealthServer } from './observability.js';
import { connectRedis, RedisOutageLog, RedisUnavailableError } from './redis.js';
import { createRuntime, type Runtime } from './runtime.js';
import type { SlackConnection } from './slack.js';
import { loadSlackConfig, type SlackConfig } from './slack-config.js';

function exitWith(code: number, message: string): never {
  console.error(message);
  process.exit(code);
}

/** What a shutdown has to close: filled in as start-up creates each piece. */
interface Live {
  redis: Redis | null;
  slack: SlackConnection | null;
  discord: DiscordConnection | null;
  runtime: Runtime | null;
  healthServer: Server | null;
  outages: RedisOutageLog | null;
}

/**
 * Runs a long-lived process until SIGTERM/SIGINT: `start` holds the platform connections
 * (and, unless RUN_WORKERS=false, the pipeline workers); `worker` runs workers alone.
 * Shutdown stops taking events, lets active jobs finish, closes queues and Redis, and
 * exits 0, all within SHUTDOWN_TIMEOUT_MS.
 */
export async function serve(
  role: 'start' | 'worker',
  argv: readonly string[] = process.argv.slice(2),
): Promise<void> {
  const command = role === 'start' ? 'npm start' : 'npm run worker';
  const usage = `usage: ${command}   (no arguments: every setting comes from the environment; see "Configuration" in the README)`;
  if (argv.length === 1 && (argv[0] === '--help' || argv[0] === '-h')) {
    console.log(usage);
    process.exit(0);
  }
  // A flag would otherwise be ignored and the bot started all the same, as if it were
  // taken ("--redis-url ...", "--help" among others).
  if (argv.length > 0)
    exitWith(2, `${command} takes no arguments (got ${JSON.stringify(argv[0])})\n${usage}`);
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
  // Node would print an uncaught error's message and stack on stderr as they are; through
  // the logger they are masked like every other line. Exit status 1, as Node's own.
  const crash = (kind: string) => (error: unknown) => {
    const err = error instanceof Error ? { message: error.message, stack: error.stack } : error;
    log.error({ err }, `${kind}; exiting`);
    process.exit(1);
  };
  process.on('uncaughtException', crash('uncaught exception'));
  process.on('unhandledRejection', crash('unhandled promise rejection'));

  // The handlers come before anything slow (Redis, Slack's auth.test, Discord's gateway):
  // an orchestrator that stops a process still starting expects exit 0 as well, not
  // death by the signal's default action.
  const live: Live = {
    redis: null,
    slack: null,
    discord: null,
    runtime: null,
    healthServer: null,
    outages: null,
  };
  let stopping = false;
  const stop = async (signal: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    const timeoutMs = config.SHUTDOWN_TIMEOUT_MS;
    // One deadline for all of it: each step gets what the ones before it left, and the
    // whole never outlasts the orchestrator's grace period (compose's stop_grace_period).
    const deadline = Date.now() + timeoutMs;
    const left = () => Math.max(0, deadline - Date.now());
    log.info({ signal, timeoutMs }, 'shutting down');
    live.outages?.close();
    const exit = () => {
      // A slow client (a scrape of /metrics, a half-sent request) must not hold the exit.
      live.healthServer?.closeAllConnections();
      live.redis?.disconnect();
      process.exit(code);
    };
    const backstop = setTimeout(() => {
      log.warn({ timeoutMs }, 'shutdown did not finish within SHUTDOWN_TIMEOUT_MS; exiting anyway');
      exit();
    }, timeoutMs);
    // Inbound events stop first; the ports still post while the publish worker drains.
    await Promise.all([
      live.slack?.stop(left()).catch(() => undefined),
      live.discord?.stop(left()).catch(() => undefined),
    ]);
    await live.runtime?.close(left());
    const server = live.healthServer;
    if (server) {
      await new Promise((resolve) => {
        server.close(resolve);
        server.closeIdleConnections();
      });
    }
    if (live.redis) {
      await Promise.race([
        live.redis.quit().catch(() => undefined),
        new Promise((r) => setTimeout(r, Math.min(1_000, left()))),
      ]);
    }
    clearTimeout(backstop);
    exit();
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

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
    if (stopping) return;
    if (error instanceof RedisUnavailableError) exitWith(1, error.message);
    throw error;
  }
  if (stopping) {
    redis.disconnect();
    return;
  }
  live.redis = redis;
  // Every connection retries for as long as Redis is away; the process says so once each
  // way, from now on (the runtime adds its own connections to it).
  const outages = new RedisOutageLog(log);
  outages.watch(redis);
  live.outages = outages;

  // Model requests are timed by the metrics, which exist only once the runtime does.
  let metrics: BotMetrics | undefined;
  // The global cap on requests in flight shares the main connection (see sharedRequestGate).
  const models = chooseModels(
    config,
    log,
    {
      modelRequest: (endpoint, outcome, seconds) =>
        metrics?.modelRequest(endpoint, outcome, seconds),
    },
    redis,
  );
  const runWorkers = role === 'worker' || config.RUN_WORKERS;
  // A platform whose connection is down, for good or while it reconnects, makes the
  // process not ready.
  // Slack counts from its start's end: the health server answers before that (below).
  let slackStarted = false;
  const platformTrouble = () =>
    live.discord && !live.discord.ready()
      ? 'discord gateway not connected'
      : live.slack && !slackStarted
        ? 'slack not connected yet'
        : null;
  // Routes close over the runtime, which exists only once the platforms are built.
  const route = (path: string) => ({
    path,
    handler: (
      req: import('node:http').IncomingMessage,
      res: import('node:http').ServerResponse,
    ) => {
      if (!live.runtime || !metrics) {
        res.writeHead(503).end('starting\n');
        return;
      }
      answerHealth(
        healthRoutes({ redis, queues: live.runtime.queues, metrics, platformTrouble }),
        req,
        res,
      );
    },
  });
  // The platform SDKs are imported only when configured: discord.js and Bolt are ~60 MiB of
  // a process's RSS, and a `worker` never holds a platform connection.
  const slack: SlackConnection | null = slackConfig
    ? (await import('./slack.js')).createSlack(slackConfig, {
        log,
        // The Slack endpoint is public. A separate METRICS_PORT is how /metrics, which has no
        // authentication, is kept off it; the probes stay for a load balancer in front.
        routes: [
          route('/healthz'),
          route('/readyz'),
          ...(config.METRICS_PORT === null || config.METRICS_PORT === config.PORT
            ? [route('/metrics')]
            : []),
        ],
      })
    : null;

  const discordModule = discordConfig ? await import('./discord.js') : null;
  const discord: DiscordConnection | null =
    discordConfig && discordModule
      ? discordModule.createDiscord(discordConfig, {
          log,
          // Discord refused the session for good (a reset token, a revoked intent): finish
          // the jobs in hand like any stop, then exit non-zero so the orchestrator says so.
          onFatal: () => void stop('discord-fatal', 1),
        })
      : null;
  if (stopping) return;
  live.slack = slack;
  live.discord = discord;

  const platforms: Partial<Record<Platform, PlatformPort>> = {};
  if (slack) platforms.slack = slack.port;
  if (discord) platforms.discord = discord.port;

  const runtime: Runtime = createRuntime({
    config,
    redis,
    log,
    generator: models.generator,
    rewardModel: models.rewardModel,
    platforms,
    runWorkers,
    outages,
    metrics: {
      modelUsage: (stage, usage) => metrics?.modelUsage(stage, usage),
      jobFinished: (queue, outcome, seconds) => metrics?.jobFinished(queue, outcome, seconds),
    },
  });
  live.runtime = runtime;
  metrics = new BotMetrics({ store: runtime.store, queues: runtime.queues, redis });
  // A version with one publish queue for every connection may have left messages in it.
  void runtime.queues.moveLegacyPublishJobs().then(
    (moved) => {
      if (moved > 0) log.info({ moved }, 'moved messages from the old publish queue');
    },
    (error: unknown) =>
      log.warn(
        { err: errorMessage(error) },
        'could not move the messages of the old publish queue; the next start tries again',
      ),
  );

  // Health and metrics ride on the Slack HTTP listener in HTTP mode. They get their own
  // server on healthPort() otherwise, and also when METRICS_PORT names another port: the
  // container's HEALTHCHECK asks healthPort() too, whatever the mode. It starts before the
  // platforms do, so a Discord start that waits on its shards answers /healthz meanwhile
  // (/readyz says 503 until the gateway is up) instead of reading as a dead container.
  const slackHttp = slackConfig !== null && !slackConfig.appToken;
  let ownPort: number | null = null;
  if (!slackHttp || (config.METRICS_PORT !== null && config.METRICS_PORT !== config.PORT)) {
    const port = healthPort(config);
    const started = await startHealthServer({
      port,
      redis,
      queues: runtime.queues,
      metrics,
      platformTrouble,
    }).catch((error: unknown) => {
      if (stopping) return null;
      const setting = config.METRICS_PORT === null ? 'PORT' : 'METRICS_PORT';
      // Most often a second process on the host (`npm start` beside `npm run worker`), each
      // on the default PORT: say what to change, not only what failed.
      const taken =
        error instanceof Error && 'code' in error && error.code === 'EADDRINUSE'
          ? ` Another process on this host listens there: give each process its own ${setting}${setting === 'PORT' ? ' (PORT=0 picks a free port)' : ''}.`
          : '';
      exitWith(
        1,
        `Cannot serve /healthz on port ${port} (${setting}): ${errorMessage(error)}.${taken}`,
      );
    });
    if (!started) return;
    live.healthServer = started.server;
    ownPort = started.port;
  }
  if (stopping) return;

  let slackPort: number | null = null;
  if (slack) {
    try {
      const started = await slack.start(runtime.service);
      slackStarted = true;
      slackPort = started.port;
      // Stopping meanwhile: the shutdown has closed the workers it knew, and this one would
      // take a job nobody waits for.
      if (!stopping) runtime.publishFor(started.scope);
    } catch (error) {
      if (stopping) return;
      await runtime.close();
      redis.disconnect();
      exitWith(1, errorMessage(error));
    }
  }
  if (discord) {
    try {
      await discord.start(runtime.service);
    } catch (error) {
      if (stopping) return;
      if (!discordModule || !(error instanceof discordModule.DiscordStartError)) throw error;
      await slack?.stop(1_000).catch(() => undefined);
      await runtime.close();
      redis.disconnect();
      exitWith(1, error.message);
    }
  }
  if (stopping) return;
  // Logged last: whoever waits for this line may signal the process right away.
  log.info(
    {
      redis: redactUrl(config.REDIS_URL),
      models: models.description,
      workers: runtime.workers.length,
      slack: slackConfig ? (slackConfig.appToken ? 'socket-mode' : `http:${slackPort}`) : 'off',
      discord: discord ? 'on' : 'off',
      health: ownPort ?? slackPort,
    },
    `${role} running`,
  );
}
