import { type Client, Events, REST } from 'discord.js';
import type { PlatformPort } from '../deliberation/ports.js';
import type { Log } from '../domain/log.js';
import { DiscordBot, type DiscordService } from '../platforms/discord/bot.js';
import type { CatchUpLimits } from '../platforms/discord/catch-up.js';
import { type ClientOptions, createDiscordClient, inviteUrl } from '../platforms/discord/client.js';
import { DiscordPlatform } from '../platforms/discord/discord-platform.js';
import { describeError } from '../platforms/discord/errors.js';
import type { DiscordConfig, DiscordShards } from './discord-config.js';

export interface DiscordDeps {
  log: Log;
  /** Defer slash commands whose work takes longer than this (default 1.5 s of Discord's 3 s). */
  deferAfterMs?: number;
  now?: () => number;
  /**
   * How long `start` waits for the next shard to receive READY and its guilds (default
   * 30 s): shards connect one after another, so the whole takes longer with more of them.
   */
  readyTimeoutMs?: number;
  /**
   * Called when Discord closes the gateway for good after `start` (token reset, intent
   * switched off): the bot would otherwise sit deaf. The sentence says what to fix. The
   * default prints it and exits with status 1, so a supervisor restarts the process and
   * the failure shows; a caller with a graceful shutdown passes its own.
   */
  onFatal?: (message: string) => void;
  /** Bounds on what catching up after a gap reads per round (tests make them small). */
  catchUpLimits?: Partial<CatchUpLimits>;
  /** Discord's cap on one request with files (default its own; tests make it small). */
  maxRequestBytes?: number;
}

export interface DiscordConnection {
  /**
   * Give this to the runtime as `platforms.discord`. It posts through its own REST
   * client, so it works before `start` and after `stop` (the publish worker drains).
   */
  port: PlatformPort;
  client: Client;
  /** Logs in to the gateway and routes events and commands to the service. */
  start(service: DiscordService): Promise<void>;
  /** Stops taking events, waits (up to `timeoutMs`) for those taken, closes the gateway. */
  stop(timeoutMs?: number): Promise<void>;
  /** Resolves when every event received so far has been handled (tests, shutdown). */
  idle(): Promise<void>;
  /**
   * True from a successful `start` until `stop` or a fatal close, except while the gateway
   * connection is lost and discord.js reconnects: whether Discord events reach the bot.
   * A readiness probe should include it.
   */
  ready(): boolean;
}

/** Close codes after which reconnecting cannot help; each gets a sentence an admin can act on. */
const FATAL_CLOSE: Record<number, string> = {
  4004: 'Discord rejected DISCORD_TOKEN: reset the token in the Developer Portal (Bot > Reset Token) and set it again.',
  4014: 'Discord refused the Message Content intent: enable it in the Developer Portal (Bot > Privileged Gateway Intents > Message Content Intent).',
  4011: 'Discord requires more shards: the bot is in more servers than its shards may hold (2,500 each). Set DISCORD_SHARDS=auto (the default), or raise it in every process along with their DISCORD_SHARD_IDS, then restart.',
};

/** What to do about a close code that is not in FATAL_CLOSE; discord.js gives up on those too. */
function fatalCloseText(code: number): string {
  return (
    FATAL_CLOSE[code] ??
    `Discord closed the gateway with code ${code} and the bot cannot reconnect; check the application in the Developer Portal, then restart the bot.`
  );
}

function exitOnFatal(message: string): void {
  console.error(message);
  process.exit(1);
}

export class DiscordStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DiscordStartError';
  }
}

/** The client's events `untilReady` follows; a plain EventEmitter in tests. */
export interface ReadySource {
  on(event: Events.ShardReady | Events.ClientReady, listener: () => void): unknown;
  off(event: Events.ShardReady | Events.ClientReady, listener: () => void): unknown;
}

/**
 * Resolves when every shard of this process is ready (ClientReady). Shards identify one
 * after another, Discord allowing `max_concurrency` identifies (1 for most bots) per 5 s,
 * so with many shards the whole outlasts any fixed limit: `timeoutMs` bounds the wait for
 * the next shard instead. `stop` ends the wait, whatever its outcome.
 */
export function untilReady(
  client: ReadySource,
  timeoutMs: number,
): { ready: Promise<void>; stop: () => void } {
  let timer: NodeJS.Timeout | undefined;
  let stop = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    const expire = () => {
      stop();
      reject(
        new DiscordStartError(
          `Discord did not become ready in time: no shard became ready within ${timeoutMs} ms.`,
        ),
      );
    };
    const progress = () => {
      clearTimeout(timer);
      timer = setTimeout(expire, timeoutMs);
    };
    const done = () => {
      stop();
      resolve();
    };
    stop = () => {
      clearTimeout(timer);
      client.off(Events.ShardReady, progress);
      client.off(Events.ClientReady, done);
    };
    client.on(Events.ShardReady, progress);
    client.on(Events.ClientReady, done);
    progress();
  });
  return { ready, stop };
}

function clientShards(shards: DiscordShards): Pick<ClientOptions, 'shards' | 'shardCount'> {
  return shards === 'auto' ? { shards: 'auto' } : { shards: shards.ids, shardCount: shards.count };
}

/**
 * Wires the Discord client, the outbound port and the event handlers. Building it
 * contacts nobody, so the port can go into the runtime before the service exists.
 */
export function createDiscord(config: DiscordConfig, deps: DiscordDeps): DiscordConnection {
  const log = deps.log.child({ platform: 'discord' });
  const client = createDiscordClient({ apiUrl: config.apiUrl, ...clientShards(config.shards) });
  // Outbound posts live as long as the process, not as long as the gateway session.
  const rest = new REST(config.apiUrl ? { api: config.apiUrl } : {}).setToken(config.token);
  const platform = new DiscordPlatform(rest, log);
  let bot: DiscordBot | null = null;
  let state: 'idle' | 'starting' | 'ready' | 'stopped' | 'failed' = 'idle';
  let closeCode: number | null = null;

  // An 'error' event without a listener would crash the process.
  client.on(Events.Error, (error) => log.error(describeError(error), 'discord client error'));
  client.on(Events.ShardError, (error) => log.warn(describeError(error), 'gateway error'));
  // Shards whose connection dropped and that discord.js is still reconnecting. `state`
  // misses these: discord.js reports a resumable close as reconnecting, not disconnected,
  // and no events arrive until the shard resumes or starts a new session.
  const reconnecting = new Set<number>();
  client.on(Events.ShardReconnecting, (shardId) => {
    reconnecting.add(shardId);
    // stop() closes the gateway too; only a drop while running is news.
    if (state === 'ready') log.warn({ shardId }, 'gateway connection lost, reconnecting');
  });
  client.on(Events.ShardResume, (shardId, replayed) => {
    reconnecting.delete(shardId);
    log.info({ shardId, replayed }, 'gateway session resumed');
  });
  // A session that could not be resumed ends with a fresh READY instead.
  client.on(Events.ShardReady, (shardId) => reconnecting.delete(shardId));
  // discord.js emits this only for close codes it will not reconnect after (4004 token,
  // 4014 intents, ...). It stays attached for the life of the client: such a close can
  // come at any time, and without a listener the process would run on, deaf.
  client.on(Events.ShardDisconnect, (event, shardId) => {
    closeCode = event.code;
    if (state !== 'ready') return; // start() reports it, or stop() caused it
    state = 'failed';
    const message = fatalCloseText(event.code);
    log.error({ code: event.code, shardId }, message);
    bot?.detach();
    (deps.onFatal ?? exitOnFatal)(message);
  });

  return {
    port: platform,
    client,
    async start(service) {
      bot = new DiscordBot({
        client,
        platform,
        service,
        log,
        moderatorRoles: config.moderatorRoles,
        deferAfterMs: deps.deferAfterMs,
        now: deps.now,
        catchUpLimits: deps.catchUpLimits,
        maxRequestBytes: deps.maxRequestBytes,
      });
      bot.attach();
      state = 'starting';
      closeCode = null;
      const waiting = untilReady(client, deps.readyTimeoutMs ?? 30_000);
      try {
        // A login that fails first leaves `ready` pending; it must not reject unobserved later.
        waiting.ready.catch(() => undefined);
        await client.login(config.token);
        await waiting.ready;
      } catch (error) {
        state = 'failed';
        bot.detach();
        await client.destroy();
        const fatal = closeCode === null ? undefined : FATAL_CLOSE[closeCode];
        const reason = /disallowed intents/i.test(String(error))
          ? FATAL_CLOSE[4014]
          : /token/i.test(String(error))
            ? FATAL_CLOSE[4004]
            : undefined;
        throw new DiscordStartError(
          fatal ?? reason ?? `Could not connect to Discord: ${describeError(error).err}`,
        );
      } finally {
        waiting.stop();
      }
      state = 'ready';
      // READY names the token's application. Another id in DISCORD_APPLICATION_ID still
      // connects, but the invite below would add another app and `npm run
      // discord:commands` is refused: say so now, and invite the bot that connected.
      const applicationId = client.application?.id ?? config.applicationId;
      if (applicationId !== config.applicationId) {
        log.error(
          { configured: config.applicationId, actual: applicationId },
          "DISCORD_APPLICATION_ID is not the application of DISCORD_TOKEN's bot: set it to the Application ID under General Information of the same application",
        );
      }
      log.info(
        {
          user: client.user?.tag,
          guilds: client.guilds.cache.size,
          shards: [...client.ws.shards.keys()],
          shardCount: client.options.shardCount,
          invite: inviteUrl(applicationId),
        },
        'discord connected',
      );
    },
    async stop(timeoutMs = 10_000) {
      state = 'stopped';
      bot?.detach();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        bot?.idle(),
        new Promise((r) => {
          timer = setTimeout(r, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      await client.destroy();
    },
    async idle() {
      await bot?.idle();
    },
    ready() {
      return state === 'ready' && reconnecting.size === 0;
    },
  };
}
