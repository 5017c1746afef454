import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';

/**
 * A local Slack: the Web API the bot calls (POST /api/<method>, form-encoded, recorded),
 * response_url and file upload endpoints, and a Socket Mode WebSocket at /link. It also
 * plays Slack's side towards the bot: signed HTTP requests and Socket Mode envelopes.
 */

export interface RecordedCall {
  /** Web API method, or `respond` (a response_url) or `upload` (a file's bytes). */
  method: string;
  args: Record<string, unknown>;
  token: string | null;
  status: number;
  at: number;
  /** What the fake answered (Web API calls only). */
  response?: Record<string, unknown>;
}

export interface FakeSlackOptions {
  teamId?: string;
  /**
   * Set: the bot token is an org-wide (Enterprise Grid) installation of this organisation.
   * auth.test then names the organisation and no single team, as for an org-level token.
   */
  enterpriseId?: string;
  botUserId?: string;
  botId?: string;
}

/** Form fields that WebClient sends as JSON strings. */
const JSON_FIELDS = new Set(['blocks', 'attachments', 'view', 'files', 'metadata']);

/** A message in a thread, as conversations.replies lists it. */
export interface ThreadMessage {
  ts: string;
  user?: string;
  text?: string;
  thread_ts?: string;
  subtype?: string;
  bot_id?: string;
  edited?: { user?: string; ts: string };
}

/** One reaction on a message, as reactions.get lists it. */
export interface MessageReaction {
  name: string;
  users: string[];
  /** Slack's count; more than `users.length` when it cut the list short. */
  count?: number;
}

/** What conversations.info tells of a channel (Slack's field names), or that it is not found. */
export interface ChannelInfo {
  is_member?: boolean;
  is_archived?: boolean;
  is_im?: boolean;
  is_shared?: boolean;
  is_ext_shared?: boolean;
  is_org_shared?: boolean;
  /** Slack lists the teams of the caller's own organisation here, not the partner's. */
  shared_team_ids?: string[];
  /** The team that hosts a shared channel. */
  conversation_host_id?: string;
  missing?: boolean;
}

interface Hold {
  matches: (call: RecordedCall) => boolean;
  released: Promise<void>;
}

export class FakeSlack {
  readonly calls: RecordedCall[] = [];
  /** users.info answers; anyone not listed is a plain member. */
  readonly users = new Map<
    string,
    {
      is_admin?: boolean;
      is_owner?: boolean;
      is_primary_owner?: boolean;
      is_bot?: boolean;
      team_id?: string;
      /** In an organisation (Enterprise Grid): the member's organisation-wide flags. */
      enterprise_user?: {
        enterprise_id?: string;
        is_admin?: boolean;
        is_owner?: boolean;
        is_primary_owner?: boolean;
      };
    }
  >();
  /**
   * conversations.info answers; channels not listed are this workspace's own, not shared,
   * with the bot as a member. `missing`: another workspace's channel, which this token
   * cannot see (channel_not_found). See `share()` for a Slack Connect channel.
   */
  readonly channels = new Map<string, ChannelInfo>();
  /**
   * conversations.replies answers, by `channel root-ts`: the replies in the thread, oldest
   * first (the root itself is listed first, as Slack does). Threads not listed are not found.
   */
  readonly threads = new Map<string, ThreadMessage[]>();
  /** reactions.get answers, by `channel ts`; messages not listed have no reactions. */
  readonly reactions = new Map<string, MessageReaction[]>();
  readonly teamId: string;
  readonly enterpriseId: string | null;
  readonly botUserId: string;
  readonly botId: string;
  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private readonly sockets = new Set<WebSocket>();
  private readonly acks = new Map<string, (payload: Record<string, unknown>) => void>();
  private readonly faults = new Map<
    string,
    { status: number; retryAfter?: number; error?: string }[]
  >();
  private readonly holds: Hold[] = [];
  /** Channels that refuse every post, edit and reaction, with the error Slack gives. */
  private readonly refused = new Map<string, string>();
  private connectedResolve: () => void = () => {};
  /** Resolves when a Socket Mode client has connected and been greeted. */
  readonly connected = new Promise<void>((resolve) => {
    this.connectedResolve = resolve;
  });
  private nextTs = 1;
  private nextFile = 1;
  private nextEnvelope = 1;
  private pinger: NodeJS.Timeout | undefined;
  base = '';

  constructor(options: FakeSlackOptions = {}) {
    this.teamId = options.teamId ?? 'T0001';
    this.enterpriseId = options.enterpriseId ?? null;
    this.botUserId = options.botUserId ?? 'UBOT';
    this.botId = options.botId ?? 'BBOT';
    this.server = createServer((req, res) => void this.handle(req, res));
    this.wss = new WebSocketServer({ server: this.server, path: '/link' });
    this.wss.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('message', (data) => {
        const message = JSON.parse(String(data)) as {
          envelope_id?: string;
          payload?: Record<string, unknown>;
        };
        if (message.envelope_id) this.acks.get(message.envelope_id)?.(message.payload ?? {});
      });
      socket.send(
        JSON.stringify({
          type: 'hello',
          num_connections: 1,
          connection_info: { app_id: 'A0001' },
          debug_info: { host: 'fake' },
        }),
      );
      this.connectedResolve();
    });
  }

  get apiUrl(): string {
    return `${this.base}/api/`;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    // Socket Mode clients reconnect when the server stays silent for 30 s.
    this.pinger = setInterval(() => {
      for (const socket of this.sockets) socket.ping();
    }, 5_000);
    return this;
  }

  async stop(): Promise<void> {
    clearInterval(this.pinger);
    for (const socket of this.sockets) socket.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  /**
   * Makes `channel` a Slack Connect channel (shared with another organisation), hosted by
   * `host`, as conversations.info describes one to this workspace's bot token.
   */
  share(channel: string, host: string = this.teamId): void {
    this.channels.set(channel, {
      ...this.channels.get(channel),
      is_shared: true,
      is_ext_shared: true,
      conversation_host_id: host,
    });
  }

  /** The next `times` calls of `method` get HTTP 429 with `retry-after: seconds`. */
  rateLimit(method: string, seconds: number, times = 1): void {
    this.addFault(method, { status: 429, retryAfter: seconds }, times);
  }

  /** The next `times` calls of `method` answer `{ok: false, error}`. */
  fail(method: string, error: string, times = 1): void {
    this.addFault(method, { status: 200, error }, times);
  }

  /**
   * From now on every chat.*, reactions.* and files.* call into `channel` answers
   * `{ok: false, error}`, as Slack answers for a channel archived, deleted or left, while
   * every other channel (a member's direct messages) still works.
   */
  refuseChannel(channel: string, error: string): void {
    this.refused.set(channel, error);
  }

  /** Lifts `refuseChannel`: the channel takes the bot's posts again. */
  allowChannel(channel: string): void {
    this.refused.delete(channel);
  }

  private addFault(
    method: string,
    fault: { status: number; retryAfter?: number; error?: string },
    times: number,
  ) {
    const list = this.faults.get(method) ?? [];
    for (let i = 0; i < times; i++) list.push(fault);
    this.faults.set(method, list);
  }

  private refusal(call: RecordedCall): string | undefined {
    const channel = call.args.channel;
    if (typeof channel !== 'string' || !/^(chat|reactions|files)\./.test(call.method)) return;
    return this.refused.get(channel);
  }

  /** Calls that match are recorded at once but answered only after `release()`. */
  hold(matches: (call: RecordedCall) => boolean): () => void {
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.holds.push({ matches, released });
    return release;
  }

  /** Successful calls of one method, in order. */
  ok(method: string): RecordedCall[] {
    return this.calls.filter((c) => c.method === method && c.status === 200);
  }

  /** Every file uploaded so far, by the name it was announced with, and its bytes. */
  uploadedFiles(): { fileId: string; filename: string; data: Buffer }[] {
    return this.ok('files.getUploadURLExternal').flatMap((announce) => {
      const fileId = String(announce.response?.file_id);
      const upload = this.calls.find((c) => c.method === 'upload' && c.args.fileId === fileId);
      const data = upload?.args.data;
      return Buffer.isBuffer(data)
        ? [{ fileId, filename: String(announce.args.filename), data }]
        : [];
    });
  }

  async waitFor(
    predicate: (call: RecordedCall) => boolean,
    timeoutMs = 15_000,
  ): Promise<RecordedCall> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.calls.find(predicate);
      if (found) return found;
      if (Date.now() > deadline) throw new Error('the fake Slack saw no such call in time');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const bytes = Buffer.concat(chunks);
    const raw = bytes.toString('utf8');
    const path = new URL(req.url ?? '/', this.base).pathname;
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice(7) : null;
    const call: RecordedCall = { method: '', args: {}, token, status: 200, at: Date.now() };
    if (path.startsWith('/respond/')) {
      call.method = 'respond';
      call.args = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    } else if (path.startsWith('/upload/')) {
      call.method = 'upload';
      // `data` keeps the file's bytes: a PNG is not UTF-8 and would not survive `raw`.
      const data = await uploadedBytes(bytes, req.headers['content-type'] ?? '');
      call.args = { fileId: path.slice('/upload/'.length), bytes: raw.length, data };
    } else if (path.startsWith('/api/')) {
      call.method = path.slice('/api/'.length);
      call.args = parseForm(raw, req.headers['content-type'] ?? '');
      if (token === null && typeof call.args.token === 'string') call.token = call.args.token;
    } else {
      res.writeHead(404).end();
      return;
    }
    const refusal = this.refusal(call);
    const fault = refusal ? { status: 200, error: refusal } : this.faults.get(call.method)?.shift();
    if (fault?.status === 429) {
      call.status = 429;
      this.calls.push(call);
      res.writeHead(429, { 'retry-after': String(fault.retryAfter ?? 1) }).end();
      return;
    }
    this.calls.push(call);
    for (const hold of this.holds) if (hold.matches(call)) await hold.released;
    if (call.method === 'respond' || call.method === 'upload') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      return;
    }
    const invalid = blockProblem(call);
    const body = fault?.error
      ? { ok: false, error: fault.error }
      : invalid
        ? { ok: false, error: 'invalid_blocks', errors: [invalid] }
        : this.answer(call);
    call.response = body;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }

  private ts(): string {
    return `${1_700_000_000 + this.nextTs++}.000100`;
  }

  private answer(call: RecordedCall): Record<string, unknown> {
    const a = call.args;
    switch (call.method) {
      case 'auth.test':
        return {
          ok: true,
          url: 'https://fake.slack.test/',
          team: 'Fake',
          user: 'consensus',
          ...(this.enterpriseId === null
            ? { team_id: this.teamId }
            : { enterprise_id: this.enterpriseId }),
          user_id: this.botUserId,
          bot_id: this.botId,
          is_enterprise_install: this.enterpriseId !== null,
        };
      case 'apps.connections.open':
        return { ok: true, url: `${this.base.replace('http', 'ws')}/link` };
      case 'chat.postMessage': {
        // As Slack refuses a bot's post in a channel it is not in, or cannot see.
        const known = this.channels.get(String(a.channel));
        if (known?.missing) return { ok: false, error: 'channel_not_found' };
        if (known?.is_member === false) return { ok: false, error: 'not_in_channel' };
        if (known?.is_archived) return { ok: false, error: 'is_archived' };
        const ts = this.ts();
        // A reply in a thread the test lists shows up in conversations.replies, as on Slack.
        const thread =
          a.thread_ts === undefined ? undefined : this.threads.get(`${a.channel} ${a.thread_ts}`);
        thread?.push({
          ts,
          text: String(a.text ?? ''),
          user: this.botUserId,
          bot_id: this.botId,
          thread_ts: String(a.thread_ts),
        });
        return {
          ok: true,
          channel: a.channel,
          ts,
          message: { text: a.text, ts, user: this.botUserId },
        };
      }
      case 'chat.update':
        return { ok: true, channel: a.channel, ts: a.ts, text: a.text };
      case 'chat.delete':
        return { ok: true, channel: a.channel, ts: a.ts };
      case 'chat.postEphemeral':
        return { ok: true, message_ts: this.ts() };
      case 'reactions.add':
      case 'views.open':
        return { ok: true };
      case 'users.info': {
        const { enterprise_user: org, ...user } = this.users.get(String(a.user)) ?? {};
        // Slack names each user's home team; a Slack Connect member's is another one. In an
        // organisation, the member's organisation and its flags come besides.
        const enterprise =
          this.enterpriseId === null && org === undefined
            ? {}
            : {
                enterprise_user: {
                  id: a.user,
                  enterprise_id: this.enterpriseId,
                  is_admin: false,
                  is_owner: false,
                  teams: [this.teamId],
                  ...org,
                },
              };
        return {
          ok: true,
          user: {
            id: a.user,
            team_id: this.teamId,
            is_admin: false,
            is_owner: false,
            ...user,
            ...enterprise,
          },
        };
      }
      case 'conversations.info': {
        const channel = this.channels.get(String(a.channel)) ?? {};
        if (channel.missing) return { ok: false, error: 'channel_not_found' };
        const { missing: _, ...info } = channel;
        return {
          ok: true,
          channel: {
            id: a.channel,
            is_channel: !channel.is_im,
            is_member: true,
            is_im: false,
            is_mpim: false,
            is_shared: false,
            is_ext_shared: false,
            is_org_shared: false,
            context_team_id: this.teamId,
            shared_team_ids: [this.teamId],
            ...info,
          },
        };
      }
      case 'conversations.replies':
        return this.replies(a);
      case 'conversations.open':
        // The bot's direct message with one member: one id per member, as Slack keeps it.
        return { ok: true, channel: { id: `D${String(a.users)}` } };
      case 'reactions.get': {
        const reactions = this.reactions.get(`${a.channel} ${a.timestamp}`) ?? [];
        return {
          ok: true,
          type: 'message',
          channel: a.channel,
          message: {
            type: 'message',
            ts: a.timestamp,
            user: this.botUserId,
            ...(reactions.length > 0 && {
              reactions: reactions.map((r) => ({
                name: r.name,
                users: r.users,
                count: r.count ?? r.users.length,
              })),
            }),
          },
        };
      }
      case 'files.getUploadURLExternal': {
        const fileId = `F${String(this.nextFile++).padStart(4, '0')}`;
        return { ok: true, upload_url: `${this.base}/upload/${fileId}`, file_id: fileId };
      }
      case 'files.completeUploadExternal':
        return { ok: true, files: a.files };
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }

  /** conversations.replies: the root, then replies after `oldest`, a page per cursor. */
  private replies(a: Record<string, unknown>): Record<string, unknown> {
    const root = String(a.ts);
    const thread = this.threads.get(`${a.channel} ${root}`);
    if (!thread) return { ok: false, error: 'thread_not_found' };
    const oldest = a.oldest === undefined ? 0 : Number(a.oldest);
    const all = [
      { type: 'message', ts: root, thread_ts: root, user: this.botUserId, bot_id: this.botId },
      ...thread
        .filter((m) => Number(m.ts) > oldest)
        .map((m) => ({ type: 'message', thread_ts: root, ...m })),
    ];
    const start = a.cursor === undefined ? 0 : Number(String(a.cursor).replace('page-', ''));
    const limit = a.limit === undefined ? 1000 : Number(a.limit);
    const page = all.slice(start, start + limit);
    const more = start + limit < all.length;
    return {
      ok: true,
      messages: page,
      has_more: more,
      response_metadata: { next_cursor: more ? `page-${start + limit}` : '' },
    };
  }

  // ---- Slack's side towards the bot ---------------------------------------------------

  /** Sends a Socket Mode envelope and resolves with the bot's acknowledgement payload. */
  async envelope(
    type: 'events_api' | 'slash_commands' | 'interactive',
    payload: Record<string, unknown>,
    options: { retryAttempt?: number; timeoutMs?: number } = {},
  ): Promise<Record<string, unknown>> {
    const envelopeId = `env-${this.nextEnvelope++}`;
    const acked = new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no ack for ${envelopeId}`)),
        options.timeoutMs ?? 5_000,
      );
      this.acks.set(envelopeId, (p) => {
        clearTimeout(timer);
        this.acks.delete(envelopeId);
        resolve(p);
      });
    });
    const frame = JSON.stringify({
      envelope_id: envelopeId,
      type,
      payload,
      accepts_response_payload: type !== 'events_api',
      ...(type === 'events_api'
        ? {
            retry_attempt: options.retryAttempt ?? 0,
            retry_reason: options.retryAttempt ? 'timeout' : '',
          }
        : {}),
    });
    for (const socket of this.sockets) socket.send(frame);
    return acked;
  }
}

/** The file in an upload: WebClient sends it as multipart (field `body`) or as raw bytes. */
async function uploadedBytes(body: Buffer, contentType: string): Promise<Buffer> {
  if (!contentType.startsWith('multipart/form-data')) return body;
  const form = await new Response(new Uint8Array(body), {
    headers: { 'content-type': contentType },
  }).formData();
  for (const value of form.values()) {
    if (typeof value !== 'string') return Buffer.from(await value.arrayBuffer());
  }
  return Buffer.alloc(0);
}

function parseForm(raw: string, contentType: string): Record<string, unknown> {
  if (contentType.includes('application/json')) return JSON.parse(raw) as Record<string, unknown>;
  const args: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    args[key] = JSON_FIELDS.has(key) ? JSON.parse(value) : value;
  }
  return args;
}

/** Slack's request signature: v0= HMAC-SHA256 of `v0:<timestamp>:<body>`. */
export function slackSignature(secret: string, timestamp: number, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

export interface SignedPost {
  secret: string;
  /** Unix seconds; default now. */
  timestamp?: number;
  retryNum?: number;
  /** Overrides the computed signature (to send a bad one). */
  signature?: string;
}

/** POSTs to the bot as Slack does: JSON for events, form fields for commands and interactivity. */
export async function postSigned(
  url: string,
  body: string,
  contentType: string,
  options: SignedPost,
): Promise<{ status: number; text: string; ms: number }> {
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const headers: Record<string, string> = {
    'content-type': contentType,
    'x-slack-request-timestamp': String(timestamp),
    'x-slack-signature': options.signature ?? slackSignature(options.secret, timestamp, body),
  };
  if (options.retryNum !== undefined) {
    headers['x-slack-retry-num'] = String(options.retryNum);
    headers['x-slack-retry-reason'] = 'http_timeout';
  }
  const started = Date.now();
  const res = await fetch(url, { method: 'POST', headers, body });
  return { status: res.status, text: await res.text(), ms: Date.now() - started };
}

/** Block Kit's documented limits: 50 blocks a message, 3,000 characters a text object. */
const MAX_BLOCKS = 50;
const MAX_TEXT = 3_000;

/**
 * Why Slack would refuse a message's blocks (`invalid_blocks`), or null: the limits a
 * message built from a large group's data can run into (a long list of mentions).
 */
function blockProblem(call: RecordedCall): string | null {
  if (call.method !== 'chat.postMessage' && call.method !== 'chat.update') return null;
  const raw = call.args.blocks;
  if (raw === undefined) return null;
  const blocks = (typeof raw === 'string' ? JSON.parse(raw) : raw) as {
    type: string;
    text?: { text?: string };
    elements?: { text?: string }[];
  }[];
  if (blocks.length > MAX_BLOCKS)
    return `no more than ${MAX_BLOCKS} items allowed [json-pointer:/blocks]`;
  for (const [i, block] of blocks.entries()) {
    const texts = [block.text?.text, ...(block.elements ?? []).map((e) => e.text)];
    for (const text of texts) {
      if (typeof text === 'string' && text.length > MAX_TEXT) {
        return `must be less than ${MAX_TEXT + 1} characters [json-pointer:/blocks/${i}/text]`;
      }
    }
  }
  return null;
}
