import { Redis } from 'ioredis';
import { errorMessage } from '../domain/errors.js';
import type { Log } from '../domain/log.js';
import { redactUrl } from './config.js';

/** Redis answered, but refused the credentials (or their absence): no start of Redis mends it. */
const AUTH_FAILURE = /\b(WRONGPASS|NOAUTH|NOPERM)\b/;

/** The cause given when REDIS_URL names a node of a Redis Cluster (see clusterNode). */
const CLUSTER_NODE = 'cluster_enabled:1';

export class RedisUnavailableError extends Error {
  constructor(url: string, cause: string) {
    const at = `REDIS_URL=${redactUrl(url)}`;
    super(
      cause === CLUSTER_NODE
        ? `Redis at ${at} is a node of a Redis Cluster (${cause}), which the bot cannot use: ` +
            'its client does not follow the redirects (MOVED) of a cluster. Point REDIS_URL at ' +
            "a single Redis endpoint (see the README's Operate section, Scaling across machines)."
        : AUTH_FAILURE.test(cause)
          ? `Redis at ${at} refused this process (${cause}). ` +
            'Check the user name and password in REDIS_URL, e.g. redis://:password@127.0.0.1:6379.'
          : `Cannot reach Redis at ${at} (${cause}). ` +
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
  // Once the retry strategy gives up, connect() rejects with a bare "Connection is
  // closed." whatever went wrong; the reason (ECONNREFUSED, WRONGPASS, NOAUTH) came only
  // as an 'error' event before it, and the operator needs it to know what to fix.
  let firstError: Error | null = null;
  redis.on('error', (error: Error) => {
    // Later errors surface through commands; an unhandled 'error' event would crash the
    // process instead.
    firstError ??= error;
  });
  try {
    await withTimeout(redis.connect(), timeoutMs);
    await withTimeout(redis.ping(), timeoutMs);
    wasReady = true;
  } catch (error) {
    redis.disconnect();
    const cause = firstError ?? error;
    const message = errorMessage(cause);
    // Redis's NOAUTH reply to HELLO goes on about HELLO's own AUTH option.
    throw new RedisUnavailableError(
      url,
      message.startsWith('NOAUTH')
        ? 'NOAUTH: it needs a password and REDIS_URL gives none'
        : message,
    );
  }
  if (await clusterNode(redis, timeoutMs)) {
    redis.disconnect();
    throw new RedisUnavailableError(url, CLUSTER_NODE);
  }
  return redis;
}

/**
 * Whether the server is a node of a Redis Cluster. It answers a key of a slot it does
 * not own with MOVED, which this plain client (the store's and BullMQ's) does not
 * follow: such a setup would work by chance, while REDIS_URL names the node owning the
 * prefix's one slot, and fail after a failover or a resharding. An INFO that an ACL or
 * a managed Redis forbids skips the check.
 */
async function clusterNode(redis: Redis, timeoutMs: number): Promise<boolean> {
  try {
    const info = await withTimeout(redis.info('cluster'), timeoutMs);
    return info.split(/\r?\n/).includes(CLUSTER_NODE);
  } catch {
    return false;
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

/** Errors of a connection to Redis that is away (refused, reset, closed, unreachable). */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOENT', // a unix socket whose server is gone
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
const CONNECTION_MESSAGES =
  /Connection is closed|Stream isn't writeable|Socket closed unexpectedly|\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOENT)\b/;

export function isConnectionError(error: Error): boolean {
  const code = 'code' in error ? error.code : undefined;
  return (
    (typeof code === 'string' && CONNECTION_CODES.has(code)) ||
    CONNECTION_MESSAGES.test(error.message)
  );
}

/**
 * When connection errors that the watched connections do not share (a worker's own,
 * blocking one: a proxy that resets it, DNS for it) are worth a line of their own.
 */
export interface StrayErrorPolicy {
  /** Errors arriving for this long, with no quiet gap, are a connection that stays down. */
  afterMs: number;
  /** No error for this long: the connection is back (or the burst was a passing one). */
  quietMs: number;
}

/**
 * Past what a full outage leaves behind (each worker's connection comes back within the
 * 2 s longest retry wait after the watched ones), and longer than that wait without an
 * error: a connection still failing keeps reporting each try at most 2 s apart.
 */
export const DEFAULT_STRAY_ERRORS: StrayErrorPolicy = { afterMs: 10_000, quietMs: 10_000 };

/**
 * One line when the process loses Redis and one when it is back. Every connection (the
 * store's, BullMQ's, each worker's blocking one) fails and retries on its own, and BullMQ
 * reports each failed try of each as an 'error' event: a 4 s outage made ~67 lines, most
 * at error level, where operators want to hear of the outage once. Errors that are not
 * about the connection are left to the caller to log as before.
 *
 * The workers' blocking connections are not watched (BullMQ makes them), so their errors
 * while the watched ones are ready would otherwise say nothing at the default level,
 * however long they last, while the workers take no jobs and /readyz stays green. They
 * get one line of their own at warn once they outlast `stray.afterMs`, and one when
 * they stop.
 */
export class RedisOutageLog {
  private readonly connections: Redis[] = [];
  private down: { since: number; errors: number } | null = null;
  private stray: {
    since: number;
    last: number;
    errors: number;
    told: boolean;
    timer: NodeJS.Timeout | undefined;
  } | null = null;
  private closing = false;

  constructor(
    private readonly log: Log,
    private readonly now: () => number = Date.now,
    private readonly strayPolicy: StrayErrorPolicy = DEFAULT_STRAY_ERRORS,
  ) {}

  /** Follows a connection: an outage starts when it reconnects, ends when all are ready. */
  watch(connection: Redis): void {
    this.connections.push(connection);
    connection.on('reconnecting', () => this.lost());
    connection.on('ready', () => this.maybeBack());
  }

  /**
   * A queue's or worker's 'error'. True when it is a connection error, which this
   * accounts for (the outage's one line); false when the caller should log it.
   */
  connectionError(error: Error): boolean {
    if (!isConnectionError(error)) return false;
    if (this.down) {
      this.down.errors++;
    } else if (this.allReady()) {
      this.strayError(error);
    } else {
      this.lost(1);
    }
    return true;
  }

  /** From the start of a shutdown on: closing connections is no outage. */
  close(): void {
    this.closing = true;
    clearTimeout(this.stray?.timer);
    this.stray = null;
  }

  /**
   * An error of a connection not watched while the watched ones are ready. A worker's
   * connection fails a try or two after an outage the watched ones already reported:
   * that stays at debug. Only errors that keep coming, without a quiet gap, for longer
   * than `afterMs` are told, once, however many follow.
   */
  private strayError(error: Error): void {
    const now = this.now();
    const stray = this.stray ?? {
      since: now,
      last: now,
      errors: 0,
      told: false,
      timer: undefined,
    };
    this.stray = stray;
    stray.errors++;
    stray.last = now;
    if (!stray.told && now - stray.since >= this.strayPolicy.afterMs) {
      stray.told = true;
      this.log.warn(
        { failingMs: now - stray.since, connectionErrors: stray.errors, err: error.message },
        'a Redis connection of the workers keeps failing while the others are up; reconnecting until it is back',
      );
    } else if (!stray.told) {
      this.log.debug({ err: error.message }, 'Redis connection error while reconnecting');
    }
    clearTimeout(stray.timer);
    stray.timer = setTimeout(() => this.strayOver(), this.strayPolicy.quietMs);
    // A quiet period to wait out must not hold the process open.
    stray.timer.unref();
  }

  private strayOver(): void {
    const stray = this.stray;
    this.stray = null;
    if (!stray?.told || this.closing) return;
    this.log.info(
      { failingMs: stray.last - stray.since, connectionErrors: stray.errors },
      'Redis connection of the workers back',
    );
  }

  private allReady(): boolean {
    return this.connections.every((c) => c.status === 'ready');
  }

  private lost(errors = 0): void {
    if (this.down || this.closing) return;
    // The outage's own two lines cover whatever connection was failing before it.
    clearTimeout(this.stray?.timer);
    this.stray = null;
    this.down = { since: this.now(), errors };
    this.log.warn({}, 'lost the Redis connection; reconnecting until it is back');
  }

  private maybeBack(): void {
    if (!this.down || this.closing || !this.allReady()) return;
    const { since, errors } = this.down;
    this.down = null;
    this.log.info(
      { downMs: this.now() - since, connectionErrors: errors },
      'Redis connection back',
    );
  }
}
