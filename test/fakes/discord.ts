import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PermissionsBitField } from 'discord.js';
import { type WebSocket, WebSocketServer } from 'ws';
import { BOT_PERMISSIONS } from '../../src/platforms/discord/client.js';

/**
 * A local Discord: REST on node:http and the Gateway over WebSocket on the same port,
 * enough for the real discord.js client. Every REST request is recorded so tests can
 * assert on what the bot sent; tests play members by dispatching gateway events.
 */

type Json = Record<string, unknown>;

export interface RecordedRequest {
  method: string;
  /** Path after `/api/v10`, e.g. `/channels/1/messages`. */
  path: string;
  query: Record<string, string>;
  /** JSON body (or `payload_json` of a multipart body); null when there was none. */
  body: Json | Json[] | null;
  files: FakeFile[];
  status: number;
  /** What the fake answered (JSON), or undefined for an empty answer. */
  response: unknown;
  at: number;
  /** Whether the request carried `Authorization: Bot <the right token>`. */
  authorized: boolean;
}

/** A file sent as multipart; `bytes` as sent (a PNG does not survive `text`). */
export interface FakeFile {
  name: string;
  text: string;
  bytes: Buffer;
  type: string;
}

export interface FakeUser {
  id: string;
  username: string;
  bot?: boolean;
}

export interface FakeRole {
  id: string;
  name: string;
  permissions?: string;
}

export interface FakeDiscordOptions {
  token: string;
  applicationId: string;
  guildId?: string;
  /** Text channels of the guild. */
  channels?: { id: string; name: string; type?: number }[];
  /**
   * Roles besides @everyone. Neither this nor `botRoles` given: the bot holds one role with
   * what its invite asks for (BOT_PERMISSIONS), as the invite link gives it on Discord.
   */
  roles?: FakeRole[];
  /** Roles the bot's own member holds (ids of `roles`), as its invite's role would be. */
  botRoles?: string[];
  /** Interactions answered later than this are unknown to Discord (10062). */
  interactionWindowMs?: number;
  /** False: the app has not enabled the Message Content intent in the portal (close 4014). */
  messageContentEnabled?: boolean;
  /** Requests with a larger body are refused whole, as Discord does (413, code 40005). */
  maxRequestBytes?: number;
  /**
   * The shard count GET /gateway/bot recommends (default 1). Its `max_concurrency` is the
   * same, so shards identify at once instead of 5 s apart as for most real bots.
   */
  shards?: number;
  /**
   * An IDENTIFY with fewer shards in all is closed with 4011, as Discord closes one whose
   * shard would hold more than 2,500 servers (default 1: never).
   */
  requiredShards?: number;
}

/** Discord's epoch (2015-01-01) in ms: snowflakes carry their creation time from it. */
const DISCORD_EPOCH = 1_420_070_400_000n;
let increment = 0n;
export function snowflake(at = Date.now()): string {
  increment = (increment + 1n) % 4096n;
  return (((BigInt(at) - DISCORD_EPOCH) << 22n) | increment).toString();
}

/** The shard Discord sends a guild's events on: its id's timestamp modulo the shard count. */
export function shardOf(guildId: string, shardCount: number): number {
  return Number((BigInt(guildId) >> 22n) % BigInt(shardCount));
}

/** A guild id that lands on `shardId` of `shardCount`. */
export function guildOnShard(shardId: number, shardCount: number): string {
  const now = Date.now();
  const offset = (((now - Number(DISCORD_EPOCH) - shardId) % shardCount) + shardCount) % shardCount;
  return snowflake(now - offset);
}

const CHANNEL = { GuildText: 0, DM: 1, PublicThread: 11 } as const;
/** Everything the bot could need; tests narrow it to check the permission guard. */
export const ALL_PERMISSIONS = '2251799813685247';
const READ_MESSAGE_HISTORY = 1n << 16n;

/** What the bot's invite link asks for, as bits: the role Discord gives a bot invited by it. */
const INVITED_PERMISSIONS = new PermissionsBitField([...BOT_PERMISSIONS]).bitfield.toString();

export const PERMS = { manageGuild: '32', manageMessages: '8192', member: '3072' } as const;

interface Session {
  id: string;
  /** [shard id, shard count] from the IDENTIFY. */
  shard: [number, number];
  seq: number;
  log: { s: number; packet: Json }[];
  socket: WebSocket | null;
}

interface InteractionState {
  id: string;
  token: string;
  createdAt: number;
  acknowledged: boolean;
  callbackType: number | null;
  original: Json | null;
  followUps: Json[];
  deleted: boolean;
}

interface Route {
  m: RegExpExecArray;
  method: string;
  path: string;
  /** The JSON object body ({} when none); `list` when the body is an array. */
  body: Json;
  list: Json[];
  query: Record<string, string>;
  files: FakeFile[];
}

const UNKNOWN_MESSAGE: [number, unknown] = [404, { message: 'Unknown Message', code: 10008 }];
const UNKNOWN_WEBHOOK: [number, unknown] = [404, { message: 'Unknown Webhook', code: 10015 }];

interface RateLimitRule {
  method: string;
  path: RegExp;
  retryAfter: number;
  global: boolean;
}

export class FakeDiscord {
  readonly requests: RecordedRequest[] = [];
  readonly identifies: { intents: number; shard: [number, number] }[] = [];
  readonly resumes: { seq: number }[] = [];
  readonly bot: FakeUser;
  readonly guildId: string;
  readonly channels = new Map<string, Json>();
  readonly messages = new Map<string, Json>();
  /** Nonces the bot sent with `enforce_nonce`, by channel: the message each made, and when. */
  private readonly nonces = new Map<string, { messageId: string; at: number }>();
  /** Who reacted with what: message id -> emoji (unicode name) -> user ids, in order. */
  readonly reactions = new Map<string, Map<string, Set<string>>>();
  /** Super reactions (burst), kept apart from the normal ones as Discord keeps them. */
  readonly superReactions = new Map<string, Map<string, Set<string>>>();
  readonly interactions = new Map<string, InteractionState>();
  /** Every user the tests played, so reaction lists can name them. */
  private readonly users = new Map<string, FakeUser>();
  private readonly roles: FakeRole[];
  /** The roles the bot's member holds now (`setBotRoles`). */
  private botRoleIds: string[];
  private readonly rateLimits: RateLimitRule[] = [];
  private readonly refusals: {
    method: string;
    path: RegExp;
    code: number;
    message: string;
    withFiles: boolean;
  }[] = [];
  /** By shard id: one gateway session per shard, as on Discord. */
  private readonly sessions = new Map<number, Session>();
  /** Already delivered events to send again on the next resume (at-least-once delivery). */
  private replayOverlap = 0;
  private readonly wss: WebSocketServer;
  private readonly waiters = new Set<() => void>();
  private holdConnections = false;
  /** The bot was kicked from the guild: it gets none of its events, and REST says 50001. */
  private kicked = false;
  private readonly held: (() => void)[] = [];
  /**
   * Runs when the bot has opened a thread, after THREAD_CREATE is sent and before the bot
   * gets the REST answer: a member (or a script) replying the moment the thread appears.
   */
  onThreadStarted: ((threadId: string) => void) | null = null;
  /** Channels hidden from the bot (`hideChannel`): their messages are not sent to it. */
  private readonly hidden = new Set<string>();
  /** Members who take no direct messages from the server's members: a post there gets 50007. */
  readonly closedDms = new Set<string>();
  private constructor(
    private readonly server: Server,
    private readonly options: FakeDiscordOptions,
  ) {
    this.bot = { id: snowflake(), username: 'consensus-bot', bot: true };
    this.users.set(this.bot.id, this.bot);
    this.guildId = options.guildId ?? snowflake();
    const invited =
      options.roles === undefined && options.botRoles === undefined
        ? { id: snowflake(), name: 'consensus-bot', permissions: INVITED_PERMISSIONS }
        : null;
    this.roles = [
      { id: this.guildId, name: '@everyone', permissions: PERMS.member },
      ...(options.roles ?? (invited ? [invited] : [])),
    ];
    this.botRoleIds = [...(options.botRoles ?? (invited ? [invited.id] : []))];
    for (const c of options.channels ?? [{ id: snowflake(), name: 'general' }]) {
      this.channels.set(c.id, {
        id: c.id,
        type: c.type ?? CHANNEL.GuildText,
        guild_id: this.guildId,
        name: c.name,
        position: 0,
        permission_overwrites: [],
        parent_id: null,
        nsfw: false,
        rate_limit_per_user: 0,
      });
    }
    this.wss = new WebSocketServer({ server });
    this.wss.on('connection', (socket) => this.onConnection(socket));
    server.on('request', (req, res) => void this.onRequest(req, res));
  }

  static async start(options: FakeDiscordOptions): Promise<FakeDiscord> {
    const server = createServer();
    const fake = new FakeDiscord(server, options);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }
  /** REST base to give discord.js (`/v10` is appended by the client). */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.port}/api`;
  }
  get gatewayUrl(): string {
    return `ws://127.0.0.1:${this.port}`;
  }
  /** Whether the shard that holds the guild is connected. */
  get connected(): boolean {
    return this.session?.socket !== null && this.session?.socket !== undefined;
  }

  /** The session of the shard that holds the guild, which gets all of its events. */
  private get session(): Session | null {
    for (const session of this.sessions.values()) {
      if (shardOf(this.guildId, session.shard[1]) === session.shard[0]) return session;
    }
    return null;
  }

  /** Ends the guild's session: what is sent until the bot identifies again is lost. */
  private endSession(): void {
    const session = this.session;
    if (session) this.sessions.delete(session.shard[0]);
  }

  /** The first text channel. */
  get channelId(): string {
    return [...this.channels.values()].find((c) => c.type === CHANNEL.GuildText)?.id as string;
  }

  async close(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- waiting ---------------------------------------------------------------------------

  /** Resolves once `probe` holds; re-checked after every request and gateway frame. */
  async waitFor<T>(
    probe: () => T | null | undefined | false,
    what: string,
    timeoutMs = 10_000,
  ): Promise<T> {
    const first = probe();
    if (first) return first;
    return new Promise<T>((resolve, reject) => {
      const check = () => {
        const value = probe();
        if (!value) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(value);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`fake Discord: no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  private changed(): void {
    for (const check of [...this.waiters]) check();
  }

  /** Requests matching method and path (a RegExp over the path after /api/v10). */
  requested(method: string, path: RegExp): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && path.test(r.path));
  }

  waitForRequest(method: string, path: RegExp, count = 1, timeoutMs?: number) {
    return this.waitFor(
      () => {
        const found = this.requested(method, path).filter((r) => r.status < 300);
        return found.length >= count ? found : null;
      },
      `${count} × ${method} ${path}`,
      timeoutMs,
    );
  }

  // ---- REST ------------------------------------------------------------------------------

  /** The next request matching gets 429 with `retry_after` seconds (once per call). */
  rateLimitNext(method: string, path: RegExp, retryAfter: number, global = false): void {
    this.rateLimits.push({ method, path, retryAfter, global });
  }

  /**
   * Requests matching get 403 with Discord's JSON `code` until the returned function is
   * called: a permission taken away by a channel's overrides (50013 Missing Permissions,
   * 50001 Missing Access). `withFiles`: only requests with attachments (Attach Files).
   */
  refuse(
    method: string,
    path: RegExp,
    code: 50001 | 50013,
    options: { withFiles?: boolean } = {},
  ): () => void {
    const rule = {
      method,
      path,
      code,
      message: code === 50001 ? 'Missing Access' : 'Missing Permissions',
      withFiles: options.withFiles ?? false,
    };
    this.refusals.push(rule);
    return () => {
      const at = this.refusals.indexOf(rule);
      if (at >= 0) this.refusals.splice(at, 1);
    };
  }

  private readonly heldAnswers: {
    matches: (request: RecordedRequest) => boolean;
    released: Promise<void>;
  }[] = [];

  /**
   * Requests that match are answered as of when they arrive, but the answer is sent only
   * after `release()`: what changes meanwhile is not in it, as with a slow real answer.
   */
  holdAnswers(matches: (request: RecordedRequest) => boolean): () => void {
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.heldAnswers.push({ matches, released });
    return release;
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname.replace(/^\/api\/v\d+/, '');
    const method = req.method ?? 'GET';
    const raw = await readBody(req);
    const { body, files } = await parseBody(raw, req.headers['content-type']);
    const record: RecordedRequest = {
      method,
      path,
      query: Object.fromEntries(url.searchParams),
      body,
      files,
      status: 0,
      response: undefined,
      at: Date.now(),
      authorized: req.headers.authorization === `Bot ${this.options.token}`,
    };
    this.requests.push(record);
    const send = (status: number, payload?: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      record.response = payload;
      if (payload === undefined) res.writeHead(status, headers).end();
      else {
        res
          .writeHead(status, { 'content-type': 'application/json', ...headers })
          .end(JSON.stringify(payload));
      }
      this.changed();
    };
    const limit = this.rateLimits.findIndex((r) => r.method === method && r.path.test(path));
    if (limit >= 0) {
      const rule = this.rateLimits.splice(limit, 1)[0] as RateLimitRule;
      send(
        429,
        {
          message: 'You are being rate limited.',
          retry_after: rule.retryAfter,
          global: rule.global,
        },
        {
          'retry-after': String(rule.retryAfter),
          'x-ratelimit-scope': 'user',
          ...(rule.global ? { 'x-ratelimit-global': 'true' } : {}),
        },
      );
      return;
    }
    if (this.options.maxRequestBytes !== undefined && raw.length > this.options.maxRequestBytes) {
      send(413, { message: 'Request entity too large', code: 40005 });
      return;
    }
    const invalid = method === 'POST' || method === 'PATCH' ? formProblem(body) : null;
    if (invalid) {
      send(400, { message: 'Invalid Form Body', code: 50035, errors: invalid });
      return;
    }
    const refusal = this.refusals.find(
      (r) => r.method === method && r.path.test(path) && (!r.withFiles || files.length > 0),
    );
    if (refusal) {
      send(403, { message: refusal.message, code: refusal.code });
      return;
    }
    if (this.kicked && path.startsWith('/channels/')) {
      send(403, { message: 'Missing Access', code: 50001 });
      return;
    }
    const webhook = /^\/(interactions|webhooks)\//.test(path);
    if (!webhook && !record.authorized) {
      send(401, { message: '401: Unauthorized', code: 0 });
      return;
    }
    try {
      const [status, payload] = this.route({
        method,
        path,
        body: Array.isArray(body) ? {} : (body ?? {}),
        list: Array.isArray(body) ? body : [],
        query: record.query,
        files,
      });
      for (const held of this.heldAnswers) if (held.matches(record)) await held.released;
      send(status, payload);
    } catch (error) {
      send(500, { message: String(error), code: 0 });
    }
  }

  /** The REST routes the bot uses, each `[method, path pattern, handler]`. */
  private readonly routes: [string, RegExp, (r: Route) => [number, unknown]][] = [
    ['GET', /^\/gateway\/bot$/, () => [200, this.gatewayInfo()]],
    ['PUT', /^\/applications\/(\d+)(?:\/guilds\/(\d+))?\/commands$/, (r) => this.putCommands(r)],
    ['GET', /^\/channels\/(\d+)$/, ({ m }) => this.getChannel(m[1] as string)],
    ['POST', /^\/channels\/(\d+)\/messages$/, (r) => this.postMessage(r)],
    ['POST', /^\/users\/@me\/channels$/, (r) => this.openDm(r)],
    ['GET', /^\/channels\/(\d+)\/messages$/, (r) => this.listMessages(r)],
    ['GET', /^\/channels\/(\d+)\/messages\/(\d+)$/, (r) => this.onMessage(r)],
    ['PATCH', /^\/channels\/(\d+)\/messages\/(\d+)$/, (r) => this.onMessage(r)],
    ['DELETE', /^\/channels\/(\d+)\/messages\/(\d+)$/, (r) => this.onMessage(r)],
    ['POST', /^\/channels\/(\d+)\/messages\/(\d+)\/threads$/, (r) => this.startThread(r)],
    [
      'PUT',
      /^\/channels\/(\d+)\/messages\/(\d+)\/reactions\/([^/]+)\/@me$/,
      (r) => this.ownReaction(r),
    ],
    [
      'DELETE',
      /^\/channels\/(\d+)\/messages\/(\d+)\/reactions\/([^/]+)\/@me$/,
      (r) => this.ownReaction(r),
    ],
    ['GET', /^\/channels\/(\d+)\/messages\/(\d+)\/reactions\/([^/]+)$/, (r) => this.reactors(r)],
    ['POST', /^\/interactions\/(\d+)\/([^/]+)\/callback$/, (r) => this.callback(r)],
    ['PATCH', /^\/webhooks\/(\d+)\/([^/]+)\/messages\/(?:@|%40)original$/, (r) => this.original(r)],
    [
      'DELETE',
      /^\/webhooks\/(\d+)\/([^/]+)\/messages\/(?:@|%40)original$/,
      (r) => this.original(r),
    ],
    ['POST', /^\/webhooks\/(\d+)\/([^/]+)$/, (r) => this.followUp(r)],
  ];

  private route(request: Omit<Route, 'm'>): [number, unknown] {
    for (const [method, pattern, handle] of this.routes) {
      const m = request.method === method ? pattern.exec(request.path) : null;
      if (m) return handle({ ...request, m });
    }
    return [
      404,
      { message: `fake Discord has no route ${request.method} ${request.path}`, code: 0 },
    ];
  }

  private gatewayInfo(): Json {
    const shards = this.options.shards ?? 1;
    return {
      url: this.gatewayUrl,
      shards,
      session_start_limit: {
        total: 1000,
        remaining: 999,
        reset_after: 14_400_000,
        max_concurrency: shards,
      },
    };
  }

  private putCommands({ m, list }: Route): [number, unknown] {
    // As Discord answers a token of another application, and a server the bot is not in.
    if (m[1] !== this.options.applicationId) {
      return [
        403,
        {
          message: 'You are not authorized to perform this action on this application',
          code: 20012,
        },
      ];
    }
    if (m[2] !== undefined && m[2] !== this.guildId) {
      return [403, { message: 'Missing Access', code: 50001 }];
    }
    const commands = list.map((c) => ({
      ...c,
      id: snowflake(),
      application_id: m[1],
      version: snowflake(),
    }));
    return [200, commands];
  }

  private getChannel(id: string): [number, unknown] {
    const channel = this.channels.get(id);
    return channel ? [200, channel] : [404, { message: 'Unknown Channel', code: 10003 }];
  }

  private postMessage({ m, body }: Route): [number, unknown] {
    const channelId = m[1] as string;
    const channel = this.channels.get(channelId);
    if (!channel) return [404, { message: 'Unknown Channel', code: 10003 }];
    // As Discord answers a bot without Manage Threads posting in a locked thread (an
    // archived one that is not locked would be unarchived by the post instead).
    const meta = channel.thread_metadata as { locked?: boolean } | undefined;
    if (meta?.locked) return [403, { message: 'Thread is archived', code: 50083 }];
    if (channel.type === CHANNEL.DM) return this.postDirect(channel, body);
    const nonce = body.nonce;
    if (nonce !== undefined && (typeof nonce !== 'string' || nonce.length > 25)) {
      return [400, { message: 'Invalid Form Body', code: 50035, errors: { nonce: {} } }];
    }
    // As Discord: with enforce_nonce, a nonce the bot sent in the last few minutes gets
    // back the message it made then, and nothing new is created.
    const key = `${channelId}:${String(nonce)}`;
    const earlier = nonce === undefined ? undefined : this.nonces.get(key);
    if (body.enforce_nonce === true && earlier && Date.now() - earlier.at < NONCE_WINDOW_MS) {
      const kept = this.messages.get(earlier.messageId);
      if (kept) return [200, kept];
    }
    const message = this.newMessage(channelId, this.bot, body);
    if (nonce !== undefined) {
      message.nonce = nonce;
      this.nonces.set(key, { messageId: String(message.id), at: Date.now() });
    }
    this.dispatch('MESSAGE_CREATE', this.gatewayMessage(message));
    return [200, message];
  }

  /** POST /users/@me/channels: the bot's DM channel with a member, one per member as on Discord. */
  private openDm({ body }: Route): [number, unknown] {
    const recipient = String(body.recipient_id ?? '');
    if (!/^\d+$/.test(recipient)) return [400, { message: 'Invalid Recipient(s)', code: 50033 }];
    const user = this.users.get(recipient) ?? { id: recipient, username: recipient };
    const open = [...this.channels.values()].find(
      (c) => c.type === CHANNEL.DM && (c.recipients as Json[])[0]?.id === recipient,
    );
    if (open) return [200, open];
    const channel = {
      id: snowflake(),
      type: CHANNEL.DM,
      last_message_id: null,
      flags: 0,
      recipients: [userPayload(user)],
    };
    this.channels.set(channel.id, channel);
    return [200, channel];
  }

  /**
   * A post into a DM channel: refused as Discord refuses a member who takes no direct
   * messages; sent without a gateway event, since the bot asks for no DM intents.
   */
  private postDirect(channel: Json, body: Json): [number, unknown] {
    const recipient = String((channel.recipients as Json[])[0]?.id);
    if (this.closedDms.has(recipient)) {
      return [403, { message: 'Cannot send messages to this user', code: 50007 }];
    }
    return [200, this.newMessage(String(channel.id), this.bot, body)];
  }

  /** The messages the bot sent a member in their DM channel, oldest first. */
  directMessagesTo(userId: string): string[] {
    const dm = [...this.channels.values()].find(
      (c) => c.type === CHANNEL.DM && (c.recipients as Json[])[0]?.id === userId,
    );
    if (!dm) return [];
    return [...this.messages.values()]
      .filter((message) => message.channel_id === dm.id)
      .map((message) => String(message.content));
  }

  private onMessage({ m, method, body }: Route): [number, unknown] {
    const message = this.messages.get(m[2] as string);
    if (!message || message.channel_id !== m[1]) return UNKNOWN_MESSAGE;
    if (method === 'PATCH') {
      Object.assign(message, pick(body, ['content', 'embeds']), {
        edited_timestamp: new Date().toISOString(),
      });
      this.dispatch('MESSAGE_UPDATE', this.gatewayMessage(message));
    }
    if (method === 'DELETE') {
      this.messages.delete(message.id as string);
      this.dispatch('MESSAGE_DELETE', {
        id: message.id,
        channel_id: message.channel_id,
        guild_id: this.guildId,
      });
      return [204, undefined];
    }
    return [200, this.withReactions(message)];
  }

  /**
   * GET /channels/{c}/messages: as Discord, the oldest `limit` (default 50, at most 100)
   * after `after`, or the newest before `before`, always sorted newest first.
   */
  private listMessages({ m, query }: Route): [number, unknown] {
    const channelId = m[1] as string;
    if (!this.channels.has(channelId)) return [404, { message: 'Unknown Channel', code: 10003 }];
    // As Discord documents: without Read Message History, no message is returned.
    if (!this.botMay(channelId, READ_MESSAGE_HISTORY)) return [200, []];
    const limit = Math.min(100, Math.max(1, Number(query.limit ?? 50)));
    const id = (message: Json) => BigInt(String(message.id));
    let found = [...this.messages.values()]
      .filter((message) => message.channel_id === channelId)
      .sort((a, b) => (id(a) < id(b) ? -1 : 1));
    if (query.after !== undefined) {
      const after = BigInt(query.after);
      found = found.filter((message) => id(message) > after).slice(0, limit);
    } else {
      if (query.before !== undefined) {
        const before = BigInt(query.before);
        found = found.filter((message) => id(message) < before);
      }
      found = found.slice(-limit);
    }
    return [200, found.reverse().map((message) => this.withReactions(message))];
  }

  /** GET .../reactions/{emoji}: the users who reacted, by id ascending, after `after`. */
  private reactors({ m, query }: Route): [number, unknown] {
    const [, , messageId, emoji] = m as unknown as [string, string, string, string];
    if (!this.messages.has(messageId)) return UNKNOWN_MESSAGE;
    // type 0 (the default) lists normal reactions, type 1 super reactions.
    const kept = query.type === '1' ? this.superReactions : this.reactions;
    const limit = Math.min(100, Math.max(1, Number(query.limit ?? 25)));
    const after = BigInt(query.after ?? '0');
    const ids = [...(kept.get(messageId)?.get(decodeURIComponent(emoji)) ?? [])]
      .filter((id) => BigInt(id) > after)
      .sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1))
      .slice(0, limit);
    return [200, ids.map((id) => userPayload(this.users.get(id) ?? { id, username: id }))];
  }

  /** A message as REST returns it: with its reactions summed up per emoji. */
  private withReactions(message: Json): Json {
    const id = String(message.id);
    const normal = this.reactions.get(id);
    const bursts = this.superReactions.get(id);
    const names = new Set([...(normal?.keys() ?? []), ...(bursts?.keys() ?? [])]);
    const reactions = [...names].flatMap((name) => {
      const users = normal?.get(name) ?? new Set<string>();
      const superUsers = bursts?.get(name) ?? new Set<string>();
      if (users.size + superUsers.size === 0) return [];
      return [
        {
          count: users.size + superUsers.size,
          count_details: { burst: superUsers.size, normal: users.size },
          me: users.has(this.bot.id),
          me_burst: superUsers.has(this.bot.id),
          burst_colors: superUsers.size > 0 ? ['#ffcc4d'] : [],
          emoji: { id: null, name },
        },
      ];
    });
    return reactions.length > 0 ? { ...message, reactions } : message;
  }

  /** Records a reaction being added or removed; says whether anything changed. */
  private setReaction(
    messageId: string,
    userId: string,
    emoji: string,
    present: boolean,
    burst = false,
  ): boolean {
    const kept = burst ? this.superReactions : this.reactions;
    const byEmoji = kept.get(messageId) ?? new Map<string, Set<string>>();
    kept.set(messageId, byEmoji);
    const users = byEmoji.get(emoji) ?? new Set<string>();
    byEmoji.set(emoji, users);
    if (users.has(userId) === present) return false;
    if (present) users.add(userId);
    else users.delete(userId);
    return true;
  }

  private startThread({ m, body }: Route): [number, unknown] {
    const [, parentId, messageId] = m as unknown as [string, string, string];
    if (!this.messages.has(messageId)) return UNKNOWN_MESSAGE;
    const thread = this.addThread(parentId, messageId, String(body.name ?? 'thread'));
    this.dispatch('THREAD_CREATE', { ...thread, newly_created: true });
    this.onThreadStarted?.(messageId);
    return [201, thread];
  }

  private ownReaction({ m, method }: Route): [number, unknown] {
    const [, channelId, messageId, emoji] = m as unknown as [string, string, string, string];
    if (!this.messages.has(messageId)) return UNKNOWN_MESSAGE;
    const event = {
      user_id: this.bot.id,
      channel_id: channelId,
      message_id: messageId,
      guild_id: this.guildId,
      emoji: { id: null, name: decodeURIComponent(emoji) },
      burst: false,
      type: 0,
    };
    if (!this.setReaction(messageId, this.bot.id, decodeURIComponent(emoji), method === 'PUT')) {
      return [204, undefined];
    }
    if (method === 'PUT') {
      this.dispatch('MESSAGE_REACTION_ADD', { ...event, member: this.member(this.bot) });
    } else this.dispatch('MESSAGE_REACTION_REMOVE', event);
    return [204, undefined];
  }

  private callback({ m, body, query, files }: Route): [number, unknown] {
    const state = this.interactions.get(m[1] as string);
    if (!state || state.token !== m[2] || Date.now() - state.createdAt > this.window) {
      return [404, { message: 'Unknown interaction', code: 10062 }];
    }
    if (state.acknowledged) {
      return [400, { message: 'Interaction has already been acknowledged.', code: 40060 }];
    }
    state.acknowledged = true;
    state.callbackType = Number(body.type);
    const data = (body.data ?? {}) as Json;
    state.original =
      state.callbackType === 4
        ? { ...this.newMessage(state.id, this.bot, data, false), flags: data.flags ?? 0, files }
        : { id: snowflake(), content: '', embeds: [], flags: data.flags ?? 0, deferred: true };
    return query.with_response === 'true'
      ? [200, { interaction: { id: state.id, type: 2 }, resource: { type: state.callbackType } }]
      : [204, undefined];
  }

  /** The interaction a webhook token belongs to, once it was acknowledged. */
  private byToken(m: RegExpExecArray): InteractionState | null {
    const state = [...this.interactions.values()].find((i) => i.token === m[2]);
    return state?.acknowledged && m[1] === this.options.applicationId ? state : null;
  }

  private original({ m, method, body, files }: Route): [number, unknown] {
    const state = this.byToken(m);
    if (!state) return UNKNOWN_WEBHOOK;
    if (method === 'DELETE') {
      state.deleted = true;
      return [204, undefined];
    }
    Object.assign(state.original ?? {}, pick(body, ['content', 'embeds']), {
      deferred: false,
      files,
    });
    return [200, state.original];
  }

  private followUp({ m, body, files }: Route): [number, unknown] {
    const state = this.byToken(m);
    if (!state) return UNKNOWN_WEBHOOK;
    const message = {
      ...this.newMessage(state.id, this.bot, body, false),
      flags: body.flags ?? 0,
      files,
    };
    state.followUps.push(message);
    return [200, message];
  }

  private get window(): number {
    return this.options.interactionWindowMs ?? 3_000;
  }

  private newMessage(channelId: string, author: FakeUser, body: Json, store = true): Json {
    const message: Json = {
      id: snowflake(),
      type: body.message_reference ? 19 : 0,
      channel_id: channelId,
      author: userPayload(author),
      content: body.content ?? '',
      embeds: body.embeds ?? [],
      attachments: [],
      ...this.mentionsIn(String(body.content ?? '')),
      mention_everyone: false,
      pinned: false,
      tts: false,
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      flags: 0,
      components: body.components ?? [],
      ...(body.message_reference ? { message_reference: body.message_reference } : {}),
    };
    if (store) this.messages.set(message.id as string, message);
    return message;
  }

  /**
   * What Discord sends beside a message's content: the users it mentions (`<@id>`,
   * `<@!id>`), with their names, and the roles (`<@&id>`).
   */
  private mentionsIn(content: string): Json {
    const users = [...content.matchAll(/<@!?(\d+)>/g)].map((m) => m[1] as string);
    const roles = [...content.matchAll(/<@&(\d+)>/g)].map((m) => m[1] as string);
    return {
      mentions: [...new Set(users)].map((id) =>
        userPayload(this.users.get(id) ?? { id, username: id }),
      ),
      mention_roles: [...new Set(roles)],
    };
  }

  private gatewayMessage(message: Json): Json {
    return { ...message, guild_id: this.guildId };
  }

  private addThread(parentId: string, messageId: string, name: string): Json {
    const thread = {
      id: messageId,
      type: CHANNEL.PublicThread,
      guild_id: this.guildId,
      parent_id: parentId,
      owner_id: this.bot.id,
      name,
      message_count: 0,
      member_count: 1,
      rate_limit_per_user: 0,
      flags: 0,
      total_message_sent: 0,
      thread_metadata: {
        archived: false,
        auto_archive_duration: 10080,
        archive_timestamp: new Date().toISOString(),
        locked: false,
        create_timestamp: new Date().toISOString(),
      },
    };
    this.channels.set(messageId, thread);
    return thread;
  }

  // ---- Gateway ------------------------------------------------------------------------------

  private onConnection(socket: WebSocket): void {
    // While a test plays events in a gap between sessions, new connections wait for it.
    if (this.holdConnections) {
      this.held.push(() => this.onConnection(socket));
      return;
    }
    socket.send(JSON.stringify({ op: 10, d: { heartbeat_interval: 41_250 } }));
    socket.on('message', (raw) => {
      const frame = JSON.parse(String(raw)) as { op: number; d: Json | number | null };
      const d = (frame.d ?? {}) as Json;
      if (frame.op === 1) socket.send(JSON.stringify({ op: 11 }));
      if (frame.op === 2) this.identify(socket, d);
      if (frame.op === 6) this.resume(socket, d);
      this.changed();
    });
    socket.on('close', () => {
      for (const session of this.sessions.values()) {
        if (session.socket === socket) session.socket = null;
      }
      this.changed();
    });
  }

  private identify(socket: WebSocket, d: Json): void {
    if (d.token !== this.options.token) {
      socket.close(4004, 'Authentication failed.');
      return;
    }
    const shard = shardPair(d.shard);
    this.identifies.push({ intents: Number(d.intents), shard });
    const messageContent = 1 << 15;
    if (this.options.messageContentEnabled === false && Number(d.intents) & messageContent) {
      socket.close(4014, 'Disallowed intent(s).');
      return;
    }
    const [shardId, shardCount] = shard;
    if (shardId >= shardCount) {
      socket.close(4010, 'Invalid shard.');
      return;
    }
    if (shardCount < (this.options.requiredShards ?? 1)) {
      socket.close(4011, 'Sharding required.');
      return;
    }
    const session: Session = {
      id: randomBytes(16).toString('hex'),
      shard,
      seq: 0,
      log: [],
      socket,
    };
    this.sessions.set(shardId, session);
    const holdsGuild = shardOf(this.guildId, shardCount) === shardId;
    this.send(session, 'READY', {
      v: 10,
      user: userPayload(this.bot),
      guilds: holdsGuild ? [{ id: this.guildId, unavailable: true }] : [],
      session_id: session.id,
      resume_gateway_url: this.gatewayUrl,
      shard,
      application: { id: this.options.applicationId, flags: 0 },
    });
    if (holdsGuild) this.send(session, 'GUILD_CREATE', this.guildPayload());
  }

  private resume(socket: WebSocket, d: Json): void {
    const session = [...this.sessions.values()].find((s) => s.id === d.session_id);
    if (!session || d.token !== this.options.token) {
      socket.send(JSON.stringify({ op: 9, d: false }));
      return;
    }
    const seq = Number(d.seq);
    this.resumes.push({ seq });
    session.socket = socket;
    const from = seq - this.replayOverlap;
    this.replayOverlap = 0;
    for (const entry of session.log) {
      // Discord never replays the session's opening; everything after it may come again.
      const opening = entry.packet.t === 'READY' || entry.packet.t === 'GUILD_CREATE';
      if (entry.s > from && !opening) socket.send(JSON.stringify(entry.packet));
    }
    this.send(session, 'RESUMED', {});
  }

  /**
   * Sends a dispatch to the bot on the shard Discord would: the guild's, or shard 0 for a
   * DM. While the connection is down it is kept and replayed on resume, as Discord does;
   * with no session on that shard (bot offline, or the shard run by no process) it is lost.
   */
  dispatch(t: string, d: Json): number {
    if (t === 'INTERACTION_CREATE') this.interactionPayloads.set(String(d.id), d);
    if (this.kicked && 'guild_id' in d) return 0;
    const session = 'guild_id' in d ? this.session : (this.sessions.get(0) ?? null);
    return session ? this.send(session, t, d) : 0;
  }

  private readonly interactionPayloads = new Map<string, Json>();

  /**
   * Sends an interaction again, as Discord does to a second gateway session on the same
   * shard (two processes, during a rolling deploy's overlap): the same id and token.
   */
  redeliverInteraction(id: string): number {
    const payload = this.interactionPayloads.get(id);
    if (!payload) throw new Error(`fake Discord: no interaction ${id}`);
    return this.dispatch('INTERACTION_CREATE', payload);
  }

  private send(session: Session, t: string, d: Json): number {
    session.seq += 1;
    const packet = { op: 0, t, s: session.seq, d };
    session.log.push({ s: session.seq, packet });
    session.socket?.send(JSON.stringify(packet));
    return session.seq;
  }

  /**
   * Drops the connection (the guild's shard's) as a network failure would; discord.js
   * reconnects and resumes.
   * `replayDelivered` events it already had are sent again with the missed ones.
   * `whileGone` runs once the connection is down; the bot cannot reconnect before it ends.
   */
  async dropConnection(
    options: { replayDelivered?: number; whileGone?: () => void | Promise<void> } = {},
  ): Promise<void> {
    const socket = this.session?.socket;
    if (!socket) throw new Error('fake Discord: nothing to drop');
    this.replayOverlap = options.replayDelivered ?? 0;
    const resumesBefore = this.resumes.length;
    await this.holdingConnections(async () => {
      socket.close(4000, 'Unknown error');
      await this.waitFor(() => !this.connected, 'disconnect');
      await options.whileGone?.();
    });
    return void (await this.waitFor(
      () => this.resumes.length > resumesBefore && this.connected,
      'resume',
    ));
  }

  /**
   * Ends the guild's session as Discord does when it cannot be resumed: the connection
   * drops and the resume is refused (op 9), so the bot identifies afresh. Events sent before it
   * reconnects are lost, as they are on Discord (`dispatch` needs a session).
   */
  async dropSession(whileGone: () => void | Promise<void> = () => {}): Promise<void> {
    const socket = this.session?.socket;
    if (!socket) throw new Error('fake Discord: nothing to drop');
    const identifiesBefore = this.identifies.length;
    this.endSession();
    await this.holdingConnections(async () => {
      socket.close(4000, 'Unknown error');
      await whileGone();
    });
    await this.waitFor(
      () => this.identifies.length > identifiesBefore && this.connected,
      'a new session',
    );
  }

  /** New gateway connections wait while `gap` runs (also when it throws), then proceed. */
  private async holdingConnections(gap: () => Promise<void>): Promise<void> {
    const release = this.holdGateway();
    try {
      await gap();
    } finally {
      release();
    }
  }

  /** New gateway connections wait (a gateway slow to answer) until the returned function is called. */
  holdGateway(): () => void {
    this.holdConnections = true;
    return () => {
      this.holdConnections = false;
      for (const release of this.held.splice(0)) release();
    };
  }

  /** Closes the guild's shard with a close code, e.g. 4004 (token reset) or 4014 (intent revoked). */
  closeGateway(code: number, reason: string): void {
    const socket = this.session?.socket;
    if (!socket) throw new Error('fake Discord: no connection to close');
    this.endSession();
    socket.close(code, reason);
  }

  /** Events since the guild's current session started. */
  get sequence(): number {
    return this.session?.seq ?? 0;
  }

  private guildPayload(): Json {
    const now = new Date().toISOString();
    const all = [...this.channels.values()];
    return {
      id: this.guildId,
      name: 'Test server',
      icon: null,
      owner_id: snowflake(),
      afk_timeout: 300,
      verification_level: 0,
      default_message_notifications: 0,
      explicit_content_filter: 0,
      features: [],
      mfa_level: 0,
      system_channel_flags: 0,
      premium_tier: 0,
      preferred_locale: 'en-US',
      nsfw_level: 0,
      roles: this.roles.map((r, position) => this.rolePayload(r, position)),
      emojis: [],
      stickers: [],
      joined_at: now,
      large: false,
      unavailable: false,
      member_count: 2,
      members: [this.member(this.bot, this.botRoleIds)],
      channels: all.filter((c) => c.type !== CHANNEL.PublicThread && c.type !== CHANNEL.DM),
      // Discord lists active threads here, so a restarted bot knows them; archived ones
      // it learns of only by asking.
      threads: all.filter(
        (c) =>
          c.type === CHANNEL.PublicThread &&
          (c.thread_metadata as { archived?: boolean } | undefined)?.archived !== true,
      ),
      presences: [],
      voice_states: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
    };
  }

  private rolePayload(r: FakeRole, position: number): Json {
    return {
      id: r.id,
      name: r.name,
      permissions: r.permissions ?? PERMS.member,
      position,
      color: 0,
      hoist: false,
      managed: false,
      mentionable: false,
      flags: 0,
    };
  }

  /**
   * Whether the bot's roles (with @everyone's) let it see channels at all: View Channel
   * (1024) or Administrator (8). Overwrites are `setOverwrites`' and `hideChannel`'s part.
   */
  private botRolesSee(): boolean {
    let bits = 0n;
    for (const role of this.roles) {
      if (role.id === this.guildId || this.botRoleIds.includes(role.id)) {
        bits |= BigInt(role.permissions ?? PERMS.member);
      }
    }
    return (bits & (1024n | 8n)) !== 0n;
  }

  /**
   * Whether the bot holds one permission bit in a channel (a thread: its parent's), as
   * Discord computes it: roles, then the @everyone, role and member overwrites.
   */
  private botMay(channelId: string, bit: bigint): boolean {
    let bits = 0n;
    for (const role of this.roles) {
      if (role.id === this.guildId || this.botRoleIds.includes(role.id)) {
        bits |= BigInt(role.permissions ?? PERMS.member);
      }
    }
    if ((bits & 8n) !== 0n) return true;
    const channel = this.channels.get(channelId);
    const parent = channel?.parent_id ? this.channels.get(String(channel.parent_id)) : undefined;
    const overwrites = ((parent ?? channel)?.permission_overwrites ?? []) as Json[];
    const of = (o: Json) => ({
      allow: BigInt(String(o.allow ?? '0')),
      deny: BigInt(String(o.deny ?? '0')),
    });
    const everyone = overwrites.find((o) => o.id === this.guildId);
    if (everyone) bits = (bits & ~of(everyone).deny) | of(everyone).allow;
    let allow = 0n;
    let deny = 0n;
    for (const o of overwrites) {
      if (o.id === this.guildId || !this.botRoleIds.includes(String(o.id))) continue;
      allow |= of(o).allow;
      deny |= of(o).deny;
    }
    bits = (bits & ~deny) | allow;
    const own = overwrites.find((o) => o.id === this.bot.id);
    if (own) bits = (bits & ~of(own).deny) | of(own).allow;
    return (bits & bit) !== 0n;
  }

  member(user: FakeUser, roles?: string[]): Json {
    return {
      user: userPayload(user),
      // The bot's own member always carries its roles: discord.js takes any member payload
      // as the member's current state.
      roles: roles ?? (user.id === this.bot.id ? this.botRoleIds : []),
      joined_at: new Date().toISOString(),
      deaf: false,
      mute: false,
      flags: 0,
      pending: false,
      nick: null,
      avatar: null,
    };
  }

  // ---- playing members ------------------------------------------------------------------

  /** A member posts in a channel or thread; returns the message. */
  say(
    channelId: string,
    author: FakeUser,
    content: string,
    extra: { webhookId?: string; replyTo?: string } = {},
  ): Json {
    this.users.set(author.id, author);
    const reference = extra.replyTo
      ? { message_reference: { message_id: extra.replyTo, channel_id: channelId } }
      : {};
    const message = this.newMessage(channelId, author, { content, ...reference });
    if (extra.webhookId) message.webhook_id = extra.webhookId;
    const parent = this.channels.get(channelId)?.parent_id;
    const hidden = this.hidden.has(channelId) || this.hidden.has(String(parent));
    if (hidden || !this.botRolesSee()) return message;
    this.dispatch('MESSAGE_CREATE', {
      ...this.gatewayMessage(message),
      ...(author.bot || extra.webhookId ? {} : { member: this.member(author) }),
    });
    // A post reopens an archived thread. Discord does not promise which event comes
    // first; the message first is the order a bot that waits for THREAD_UPDATE gets wrong.
    const thread = this.channels.get(channelId);
    const meta = thread?.thread_metadata as { archived?: boolean; locked?: boolean } | undefined;
    if (thread && meta?.archived === true && meta.locked !== true) {
      thread.thread_metadata = {
        ...meta,
        archived: false,
        archive_timestamp: new Date().toISOString(),
      };
      this.dispatch('THREAD_UPDATE', thread);
    }
    return message;
  }

  /** A thread archives itself (inactivity) or a moderator closes it: THREAD_UPDATE. */
  archiveThread(threadId: string): void {
    const thread = this.channels.get(threadId);
    if (!thread) throw new Error(`fake Discord: no thread ${threadId}`);
    thread.thread_metadata = {
      ...(thread.thread_metadata as Json),
      archived: true,
      archive_timestamp: new Date().toISOString(),
    };
    this.dispatch('THREAD_UPDATE', thread);
  }

  roleId(name: string): string {
    const role = this.roles.find((r) => r.name === name);
    if (!role) throw new Error(`fake Discord: no role ${name}`);
    return role.id;
  }

  /** A member opens a thread on a message (not the bot's question). */
  openThread(parentId: string, messageId: string, name: string): string {
    const thread = this.addThread(parentId, messageId, name);
    this.dispatch('THREAD_CREATE', { ...thread, newly_created: true });
    return messageId;
  }

  /**
   * A member edits a message. `withoutContent`: the MESSAGE_UPDATE carries no content
   * (Discord sends partial updates), so the bot must fetch the message to read it.
   */
  edit(
    messageId: string,
    content: string,
    options: { withoutContent?: boolean; editedAt?: number } = {},
  ): void {
    const message = this.messages.get(messageId);
    if (!message) throw new Error(`fake Discord: no message ${messageId}`);
    const edited = {
      ...message,
      content,
      ...this.mentionsIn(content),
      edited_timestamp: new Date(options.editedAt ?? Date.now()).toISOString(),
    };
    // `editedAt` before the message's last edit: an older edit whose event arrives late.
    // Discord keeps the newer text; only the event carries the older one.
    const late =
      typeof message.edited_timestamp === 'string' &&
      Date.parse(message.edited_timestamp) > Date.parse(edited.edited_timestamp);
    if (!late) Object.assign(message, edited);
    const { content: _content, ...withoutContent } = this.gatewayMessage(edited);
    this.dispatch(
      'MESSAGE_UPDATE',
      options.withoutContent ? withoutContent : this.gatewayMessage(edited),
    );
  }

  /**
   * Discord changes a message the member did not edit: a link preview (embed) unfurls, or
   * it is pinned. The MESSAGE_UPDATE keeps edited_timestamp as it was (null if never edited).
   */
  unfurl(messageId: string, change: { embeds?: Json[]; pinned?: boolean }): void {
    const message = this.messages.get(messageId);
    if (!message) throw new Error(`fake Discord: no message ${messageId}`);
    Object.assign(message, change);
    this.dispatch('MESSAGE_UPDATE', this.gatewayMessage(message));
  }

  /**
   * A moderator deletes a thread: it and its messages are gone (later requests to it get
   * 404 Unknown Channel), and the gateway says THREAD_DELETE unless `withoutEvent`.
   */
  deleteThread(threadId: string, options: { withoutEvent?: boolean } = {}): void {
    const thread = this.channels.get(threadId);
    if (!thread) throw new Error(`fake Discord: no thread ${threadId}`);
    this.channels.delete(threadId);
    for (const [id, message] of this.messages) {
      if (message.channel_id === threadId) this.messages.delete(id);
    }
    // Without the event: as for a thread discord.js had not cached, which emits nothing.
    if (options.withoutEvent) return;
    this.dispatch('THREAD_DELETE', {
      id: threadId,
      guild_id: this.guildId,
      parent_id: thread.parent_id,
      type: thread.type,
    });
  }

  /**
   * An admin deletes a text channel: it, its threads and all their messages are gone (later
   * requests get 404 Unknown Channel), and the gateway says CHANNEL_DELETE (none for the
   * threads, as on Discord).
   */
  deleteChannel(channelId: string): void {
    const channel = this.channels.get(channelId);
    if (!channel || channel.type !== CHANNEL.GuildText) {
      throw new Error(`fake Discord: no text channel ${channelId}`);
    }
    const gone = new Set([channelId]);
    for (const [id, c] of this.channels) if (c.parent_id === channelId) gone.add(id);
    for (const id of gone) this.channels.delete(id);
    for (const [id, message] of this.messages) {
      if (gone.has(String(message.channel_id))) this.messages.delete(id);
    }
    this.dispatch('CHANNEL_DELETE', channel);
  }

  /**
   * A server admin changes a channel's permission overwrites (CHANNEL_UPDATE), e.g.
   * `{ id: botId, type: 1, allow: '0', deny: '1024' }` to hide it from the bot.
   */
  setOverwrites(channelId: string, overwrites: Json[]): void {
    const channel = this.channels.get(channelId);
    if (!channel) throw new Error(`fake Discord: no channel ${channelId}`);
    channel.permission_overwrites = overwrites;
    // Denied View Channel, the bot gets none of the channel's messages, as on Discord.
    const hides = overwrites.some(
      (o) => o.id === this.bot.id && (BigInt(String(o.deny ?? '0')) & 1024n) !== 0n,
    );
    if (hides) this.hidden.add(channelId);
    else this.hidden.delete(channelId);
    this.dispatch('CHANNEL_UPDATE', channel);
  }

  /**
   * A server admin edits a role's permissions (GUILD_ROLE_UPDATE). Taking View Channel from
   * every role the bot has (and @everyone) hides every channel from it, as on Discord.
   */
  setRolePermissions(roleId: string, permissions: string): void {
    const index = this.roles.findIndex((r) => r.id === roleId);
    const role = this.roles[index];
    if (!role) throw new Error(`fake Discord: no role ${roleId}`);
    role.permissions = permissions;
    this.dispatch('GUILD_ROLE_UPDATE', {
      guild_id: this.guildId,
      role: this.rolePayload(role, index),
    });
  }

  /**
   * A server admin deletes a role (GUILD_ROLE_DELETE): every member holding it, the bot
   * included, loses it and what it gave, with no member update, as on Discord.
   */
  deleteRole(roleId: string): void {
    const index = this.roles.findIndex((r) => r.id === roleId);
    if (index < 1) throw new Error(`fake Discord: no deletable role ${roleId}`);
    this.roles.splice(index, 1);
    this.botRoleIds = this.botRoleIds.filter((id) => id !== roleId);
    this.dispatch('GUILD_ROLE_DELETE', { guild_id: this.guildId, role_id: roleId });
  }

  /**
   * A server admin gives the bot other roles (GUILD_MEMBER_UPDATE: Discord sends the bot's
   * own member updates whatever its intents).
   */
  setBotRoles(roleIds: string[]): void {
    this.botRoleIds = [...roleIds];
    this.dispatch('GUILD_MEMBER_UPDATE', {
      guild_id: this.guildId,
      ...this.member(this.bot, this.botRoleIds),
    });
  }

  /**
   * A channel's View Channel is taken from the bot, reported as a CHANNEL_DELETE (as some
   * gateway sessions see it): the channel is still there, but the bot's requests to it get
   * 403 Missing Access and nothing said in it or its threads reaches the bot. Returns the
   * giving back, which Discord reports as a CHANNEL_CREATE.
   */
  hideChannel(channelId: string): () => void {
    const channel = this.channels.get(channelId);
    if (!channel) throw new Error(`fake Discord: no channel ${channelId}`);
    const allow = this.refuse('GET', new RegExp(`^/channels/${channelId}$`), 50001);
    this.hidden.add(channelId);
    this.dispatch('CHANNEL_DELETE', channel);
    return () => {
      allow();
      this.hidden.delete(channelId);
      this.dispatch('CHANNEL_CREATE', channel);
    };
  }

  /**
   * An admin kicks the bot from the server (GUILD_DELETE without `unavailable`), or, with
   * `outage`, the server goes down for Discord (`unavailable: true`).
   */
  kickBot(options: { outage?: boolean } = {}): void {
    this.dispatch('GUILD_DELETE', {
      id: this.guildId,
      ...(options.outage && { unavailable: true }),
    });
    this.kicked = true;
  }

  /** An admin invites the bot back (or the outage ends): GUILD_CREATE with the guild as it is now. */
  reinviteBot(): void {
    this.kicked = false;
    const session = this.session;
    if (session) this.send(session, 'GUILD_CREATE', this.guildPayload());
  }

  /** A moderator locks a thread (and closes it, as Discord's client does): THREAD_UPDATE. */
  lockThread(threadId: string): void {
    const thread = this.channels.get(threadId);
    if (!thread) throw new Error(`fake Discord: no thread ${threadId}`);
    thread.thread_metadata = {
      ...(thread.thread_metadata as Json),
      locked: true,
      archived: true,
      archive_timestamp: new Date().toISOString(),
    };
    this.dispatch('THREAD_UPDATE', thread);
  }

  /** A moderator deletes several messages of a channel at once (MESSAGE_DELETE_BULK). */
  removeMany(channelId: string, messageIds: string[]): void {
    for (const id of messageIds) this.messages.delete(id);
    this.dispatch('MESSAGE_DELETE_BULK', {
      ids: messageIds,
      channel_id: channelId,
      guild_id: this.guildId,
    });
  }

  remove(messageId: string): void {
    const message = this.messages.get(messageId);
    if (!message) throw new Error(`fake Discord: no message ${messageId}`);
    this.messages.delete(messageId);
    this.dispatch('MESSAGE_DELETE', {
      id: messageId,
      channel_id: message.channel_id,
      guild_id: this.guildId,
    });
  }

  /** A member adds (or removes) a unicode reaction, a super reaction with `burst`. */
  react(
    channelId: string,
    messageId: string,
    user: FakeUser,
    emoji: string,
    removed = false,
    burst = false,
  ) {
    this.users.set(user.id, user);
    // As on Discord: adding a reaction twice, or removing one that is not there, sends nothing.
    if (!this.setReaction(messageId, user.id, emoji, !removed, burst)) return;
    const event = {
      user_id: user.id,
      channel_id: channelId,
      message_id: messageId,
      guild_id: this.guildId,
      emoji: { id: null, name: emoji },
      burst,
      type: burst ? 1 : 0,
      ...(burst && !removed ? { burst_colors: ['#ffcc4d'] } : {}),
    };
    if (removed) this.dispatch('MESSAGE_REACTION_REMOVE', event);
    else this.dispatch('MESSAGE_REACTION_ADD', { ...event, member: this.member(user) });
  }

  /** A moderator removes every reaction from a message (MESSAGE_REACTION_REMOVE_ALL). */
  removeAllReactions(channelId: string, messageId: string): void {
    this.reactions.delete(messageId);
    this.superReactions.delete(messageId);
    this.dispatch('MESSAGE_REACTION_REMOVE_ALL', {
      channel_id: channelId,
      message_id: messageId,
      guild_id: this.guildId,
    });
  }

  /** A moderator removes one emoji's reactions from a message (MESSAGE_REACTION_REMOVE_EMOJI). */
  removeEmojiReactions(channelId: string, messageId: string, emoji: string): void {
    this.reactions.get(messageId)?.delete(emoji);
    this.superReactions.get(messageId)?.delete(emoji);
    this.dispatch('MESSAGE_REACTION_REMOVE_EMOJI', {
      channel_id: channelId,
      message_id: messageId,
      guild_id: this.guildId,
      emoji: { id: null, name: emoji },
    });
  }

  /**
   * A member runs `/consensus <sub>` (in a guild channel, or in a DM with `dm: true`).
   * Returns the interaction id; `reply(id)` tells what the member saw.
   */
  command(
    sub: string,
    options: Record<string, string | number | boolean> = {},
    as: {
      user: FakeUser;
      roles?: string[];
      permissions?: string;
      channelId?: string;
      dm?: boolean;
      appPermissions?: string;
      /** The largest attachment the bot may send in its reply (Discord says per interaction). */
      attachmentSizeLimit?: number;
    },
  ): string {
    const id = snowflake();
    const token = `itok_${randomBytes(24).toString('hex')}`;
    this.interactions.set(id, {
      id,
      token,
      createdAt: Date.now(),
      acknowledged: false,
      callbackType: null,
      original: null,
      followUps: [],
      deleted: false,
    });
    const channelId = as.channelId ?? this.channelId;
    const channel = as.dm
      ? { id: snowflake(), type: CHANNEL.DM, recipients: [userPayload(as.user)] }
      : this.channels.get(channelId);
    // Discord's option types: 3 string, 4 integer, 5 boolean.
    const typeOf = (v: string | number | boolean) =>
      typeof v === 'boolean' ? 5 : typeof v === 'number' ? 4 : 3;
    this.dispatch('INTERACTION_CREATE', {
      id,
      application_id: this.options.applicationId,
      type: 2,
      token,
      version: 1,
      locale: 'en-US',
      app_permissions: as.appPermissions ?? ALL_PERMISSIONS,
      entitlements: [],
      attachment_size_limit: as.attachmentSizeLimit ?? 10 * 1024 * 1024,
      channel,
      channel_id: channel?.id,
      ...(as.dm
        ? { user: userPayload(as.user), context: 1, authorizing_integration_owners: { '0': '0' } }
        : {
            guild_id: this.guildId,
            authorizing_integration_owners: { '0': this.guildId },
            guild_locale: 'en-US',
            context: 0,
            member: {
              ...this.member(as.user, as.roles ?? []),
              permissions: as.permissions ?? PERMS.member,
            },
          }),
      data: {
        id: snowflake(),
        name: 'consensus',
        type: 1,
        options: [
          {
            name: sub,
            type: 1,
            options: Object.entries(options).map(([name, value]) => ({
              name,
              type: typeOf(value),
              value,
            })),
          },
        ],
      },
    });
    return id;
  }

  /** A member clicks a button (component interaction, type 3) on a message the bot posted. */
  click(
    messageId: string,
    customId: string,
    user: FakeUser,
    options: { dm?: boolean } = {},
  ): string {
    const message = this.messages.get(messageId);
    if (!message) throw new Error(`fake Discord: no message ${messageId}`);
    const id = snowflake();
    const token = `itok_${randomBytes(24).toString('hex')}`;
    this.interactions.set(id, {
      id,
      token,
      createdAt: Date.now(),
      acknowledged: false,
      callbackType: null,
      original: null,
      followUps: [],
      deleted: false,
    });
    const channelId = String(message.channel_id);
    const dm = { id: snowflake(), type: CHANNEL.DM, recipients: [userPayload(user)] };
    this.dispatch('INTERACTION_CREATE', {
      id,
      application_id: this.options.applicationId,
      type: 3,
      token,
      version: 1,
      locale: 'en-US',
      app_permissions: ALL_PERMISSIONS,
      entitlements: [],
      ...(options.dm
        ? {
            channel: dm,
            channel_id: dm.id,
            user: userPayload(user),
            context: 1,
            authorizing_integration_owners: { '0': '0' },
            message: { ...message, channel_id: dm.id },
          }
        : {
            channel: this.channels.get(channelId),
            channel_id: channelId,
            guild_id: this.guildId,
            authorizing_integration_owners: { '0': this.guildId },
            guild_locale: 'en-US',
            context: 0,
            member: { ...this.member(user, []), permissions: PERMS.member },
            message: this.gatewayMessage(message),
          }),
      data: { custom_id: customId, component_type: 2 },
    });
    return id;
  }

  /** What the member who ran a command saw: the reply (or deferral) and follow-ups. */
  reply(interactionId: string): InteractionState {
    const state = this.interactions.get(interactionId);
    if (!state) throw new Error(`fake Discord: no interaction ${interactionId}`);
    return state;
  }

  /** Waits until the command's answer (not just a deferral) is there. */
  answered(interactionId: string, timeoutMs?: number): Promise<InteractionState> {
    return this.waitFor(
      () => {
        const state = this.reply(interactionId);
        const done =
          (state.original && state.original.deferred !== true && !state.deleted) ||
          state.followUps.length > 0;
        return done ? state : null;
      },
      `answer to interaction ${interactionId}`,
      timeoutMs,
    );
  }
}

/** How long Discord honours `enforce_nonce` ("the past few minutes"): five, here. */
const NONCE_WINDOW_MS = 5 * 60_000;

/** IDENTIFY's `shard`; a bot that sends none runs shard 0 of 1. */
function shardPair(value: unknown): [number, number] {
  if (!Array.isArray(value) || value.length !== 2) return [0, 1];
  return [Number(value[0]), Number(value[1])];
}

function userPayload(user: FakeUser): Json {
  return {
    id: user.id,
    username: user.username,
    discriminator: '0',
    global_name: user.username,
    avatar: null,
    bot: user.bot ?? false,
  };
}

function pick(source: Json, keys: string[]): Json {
  return Object.fromEntries(keys.filter((k) => k in source).map((k) => [k, source[k]]));
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** JSON bodies, and multipart ones (files) with their `payload_json`. */
async function parseBody(
  raw: Buffer,
  contentType: string | undefined,
): Promise<{ body: Json | Json[] | null; files: FakeFile[] }> {
  if (raw.length === 0) return { body: null, files: [] };
  if (contentType?.startsWith('multipart/form-data')) {
    const form = await new Response(new Uint8Array(raw), {
      headers: { 'content-type': contentType },
    }).formData();
    const files: FakeFile[] = [];
    let body: Json | null = null;
    for (const [key, value] of form.entries()) {
      if (key === 'payload_json' && typeof value === 'string') body = JSON.parse(value) as Json;
      else if (typeof value !== 'string') {
        const bytes = Buffer.from(await value.arrayBuffer());
        files.push({ name: value.name, text: bytes.toString('utf8'), bytes, type: value.type });
      }
    }
    return { body, files };
  }
  return { body: JSON.parse(raw.toString('utf8')) as Json | Json[], files: [] };
}

/** Discord's documented message limits, which a message built from a long round can pass. */
const LIMIT = { content: 2000, fields: 25, fieldValue: 1024, embedTotal: 6000 } as const;

/**
 * Why Discord would refuse a message body (400, code 50035 "Invalid Form Body"), or null.
 * An interaction callback carries its message in `data`.
 */
function formProblem(body: Json | Json[] | null): string | null {
  if (body === null || Array.isArray(body) || typeof body !== 'object') return null;
  const inner = body.data;
  const message: Json =
    inner !== null && typeof inner === 'object' && !Array.isArray(inner) ? (inner as Json) : body;
  const content = message.content;
  if (typeof content === 'string' && content.length > LIMIT.content) {
    return `content: Must be ${LIMIT.content} or fewer in length.`;
  }
  const embeds = Array.isArray(message.embeds) ? message.embeds : [];
  for (const embed of embeds as {
    title?: string;
    description?: string;
    footer?: { text?: string };
    fields?: { name: string; value: string }[];
  }[]) {
    const fields = embed.fields ?? [];
    if (fields.length > LIMIT.fields) return `embeds.fields: Must be ${LIMIT.fields} or fewer.`;
    if (fields.some((f) => f.value.length > LIMIT.fieldValue)) {
      return `embeds.fields.value: Must be ${LIMIT.fieldValue} or fewer in length.`;
    }
    const total =
      (embed.title?.length ?? 0) +
      (embed.description?.length ?? 0) +
      (embed.footer?.text?.length ?? 0) +
      fields.reduce((n, f) => n + f.name.length + f.value.length, 0);
    if (total > LIMIT.embedTotal) {
      return `embeds: Embed size exceeds maximum size of ${LIMIT.embedTotal}`;
    }
  }
  return null;
}
