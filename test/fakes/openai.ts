import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readDataBlock } from '../../src/models/llm/prompts.js';

/**
 * A local fake of an OpenAI-compatible server (node:http on 127.0.0.1), for driving the
 * real `openai` client in tests and the demo. It records every request, answers
 * chat.completions (honouring `response_format` json_schema by name) and embeddings,
 * and can be scripted to misbehave: latency, 429 with retry-after, 5xx, hanging until the
 * client times out, a malformed body, or any content.
 */

export interface RecordedRequest {
  method: string;
  path: string;
  /** The query string, without its `?` ('' when none). */
  query: string;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON, or the raw text when the body was not JSON. */
  body: unknown;
  at: number;
}

export interface ChatMessage {
  role: string;
  content: string;
}

export interface ChatBody {
  model: string;
  messages: ChatMessage[];
  response_format?: { type: string; json_schema?: { name: string; schema?: unknown } };
  temperature?: number;
  max_tokens?: number;
}

export interface EmbeddingsBody {
  model: string;
  input: string | string[];
  encoding_format?: string;
}

export type FakeReply =
  /** A chat completion with this message content (usage estimated unless given). */
  | {
      kind: 'chat';
      content: string;
      finishReason?: string;
      /** A refusal as OpenAI sends one: this text in `refusal`, and no content. */
      refusal?: string;
      usage?: { prompt_tokens: number; completion_tokens: number } | null;
    }
  | { kind: 'embeddings'; vectors: number[][] }
  /** An OpenAI-style error body with this status. */
  | { kind: 'error'; status: number; message?: string; headers?: Record<string, string> }
  | { kind: 'rate-limit'; retryAfterSeconds?: number; retryAfterMs?: number }
  /** Never answers: the client's timeout has to end it. */
  | { kind: 'hang' }
  /** 200 and the start of a body, then the connection is closed (a crash, a proxy cut). */
  | { kind: 'cut' }
  /** 200, `content-type: application/json`, and a body that is not JSON. */
  | { kind: 'malformed' }
  /** Any status and JSON body. */
  | { kind: 'raw'; status: number; body: unknown }
  /** Any status and a JSON body sent as this text: JSON.stringify cannot write 1e999. */
  | { kind: 'text'; status: number; text: string };

export type Handler<B> = (body: B, fake: FakeOpenAI) => FakeReply | Promise<FakeReply>;

interface Scripted {
  reply: FakeReply;
  matches: (path: string, body: unknown) => boolean;
}

export class FakeOpenAI {
  readonly requests: RecordedRequest[] = [];
  /** Added before every answer, in ms. */
  latencyMs = 0;
  onChat: Handler<ChatBody> = defaultChat;
  onEmbeddings: Handler<EmbeddingsBody> = defaultEmbeddings;
  private readonly scripted: Scripted[] = [];

  private constructor(
    private readonly server: Server,
    readonly baseURL: string,
  ) {}

  static async start(options: { port?: number; latencyMs?: number } = {}): Promise<FakeOpenAI> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const fake = new FakeOpenAI(server, `http://127.0.0.1:${port}/v1`);
    fake.latencyMs = options.latencyMs ?? 0;
    server.on('request', (req, res) => {
      fake.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) send(res, 500, { error: { message: String(error) } });
      });
    });
    return fake;
  }

  /**
   * Replies used before the handlers, first matching one first, each once. `schema`
   * limits a reply to chat requests whose response_format has that name ('embeddings'
   * for the embeddings endpoint).
   */
  script(schema: string | null, ...replies: FakeReply[]): void {
    for (const reply of replies) {
      this.scripted.push({
        reply,
        matches: (path, body) =>
          schema === null ||
          (schema === 'embeddings' ? path.endsWith('/embeddings') : schemaName(body) === schema),
      });
    }
  }

  /** Chat requests made so far, optionally only those asking for one schema. */
  chatBodies(schema?: string): ChatBody[] {
    return this.requests
      .filter((r) => r.path.endsWith('/chat/completions'))
      .map((r) => r.body as ChatBody)
      .filter((b) => schema === undefined || schemaName(b) === schema);
  }

  embeddingBodies(): EmbeddingsBody[] {
    return this.requests
      .filter((r) => r.path.endsWith('/embeddings'))
      .map((r) => r.body as EmbeddingsBody);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // recorded as text
    }
    const [path = '/', query = ''] = (req.url ?? '/').split('?', 2);
    this.requests.push({
      method: req.method ?? 'GET',
      path,
      query,
      headers: req.headers,
      body,
      at: Date.now(),
    });

    if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
    const index = this.scripted.findIndex((s) => s.matches(path, body));
    let reply: FakeReply;
    if (index >= 0) {
      reply = (this.scripted.splice(index, 1)[0] as Scripted).reply;
    } else if (req.method === 'POST' && path === '/v1/chat/completions') {
      reply = await this.onChat(body as ChatBody, this);
    } else if (req.method === 'POST' && path === '/v1/embeddings') {
      reply = await this.onEmbeddings(body as EmbeddingsBody, this);
    } else if (req.method === 'GET' && path === '/v1/models') {
      reply = { kind: 'raw', status: 200, body: { object: 'list', data: [] } };
    } else {
      reply = { kind: 'error', status: 404, message: `no route ${req.method} ${path}` };
    }
    this.reply(res, reply, body);
  }

  private reply(res: ServerResponse, reply: FakeReply, body: unknown): void {
    switch (reply.kind) {
      case 'chat': {
        const request = body as Partial<ChatBody>;
        const promptChars = (request.messages ?? []).reduce(
          (n, m) => n + String(m.content).length,
          0,
        );
        const usage = reply.usage ?? {
          prompt_tokens: Math.ceil(promptChars / 4),
          completion_tokens: Math.ceil(reply.content.length / 4),
        };
        send(res, 200, {
          id: `chatcmpl-${this.requests.length}`,
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model: request.model ?? 'fake',
          choices: [
            {
              index: 0,
              message:
                reply.refusal === undefined
                  ? { role: 'assistant', content: reply.content, refusal: null }
                  : { role: 'assistant', content: null, refusal: reply.refusal },
              finish_reason: reply.finishReason ?? 'stop',
              logprobs: null,
            },
          ],
          usage:
            reply.usage === null
              ? undefined
              : { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
        });
        return;
      }
      case 'embeddings': {
        const request = body as Partial<EmbeddingsBody>;
        const inputs = [request.input ?? []].flat();
        const tokens = inputs.reduce((n, t) => n + Math.ceil(String(t).length / 4), 0);
        const float = request.encoding_format === 'float';
        send(res, 200, {
          object: 'list',
          model: request.model ?? 'fake',
          data: reply.vectors.map((v, index) => ({
            object: 'embedding',
            index,
            // As OpenAI does: base64 of little-endian float32 unless floats were asked for.
            embedding: float ? v : Buffer.from(new Float32Array(v).buffer).toString('base64'),
          })),
          usage: { prompt_tokens: tokens, total_tokens: tokens },
        });
        return;
      }
      case 'error':
        send(
          res,
          reply.status,
          {
            error: {
              message: reply.message ?? `fake error ${reply.status}`,
              type: reply.status >= 500 ? 'server_error' : 'invalid_request_error',
              param: null,
              code: null,
            },
          },
          reply.headers,
        );
        return;
      case 'rate-limit': {
        const headers: Record<string, string> = {};
        if (reply.retryAfterSeconds !== undefined) {
          headers['retry-after'] = String(reply.retryAfterSeconds);
        }
        if (reply.retryAfterMs !== undefined)
          headers['retry-after-ms'] = String(reply.retryAfterMs);
        send(
          res,
          429,
          {
            error: {
              message: 'Rate limit reached for requests',
              type: 'requests',
              param: null,
              code: 'rate_limit_exceeded',
            },
          },
          headers,
        );
        return;
      }
      case 'hang':
        return;
      case 'cut':
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
        res.write('{"id": "chatcmpl-cut", "choices": [');
        setTimeout(() => res.socket?.destroy(), 10);
        return;
      case 'malformed':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"id": "chatcmpl-broken", "choices": [');
        return;
      case 'raw':
        send(res, reply.status, reply.body);
        return;
      case 'text':
        res.writeHead(reply.status, { 'content-type': 'application/json' });
        res.end(reply.text);
        return;
    }
  }
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function schemaName(body: unknown): string | null {
  const format = (body as Partial<ChatBody> | null)?.response_format;
  return format?.json_schema?.name ?? null;
}

/** The JSON data block of a chat request's user message (see src/models/llm/prompts.ts). */
export function dataOf(body: ChatBody): Record<string, unknown> {
  const user = body.messages.find((m) => m.role === 'user');
  return readDataBlock(user?.content ?? '') as Record<string, unknown>;
}

/** The letters a judge request shows, with their statements. */
export function statementsOf(body: ChatBody): Record<string, string> {
  return dataOf(body).statements as Record<string, string>;
}

export function chatJson(value: unknown): FakeReply {
  return { kind: 'chat', content: JSON.stringify(value) };
}

/**
 * A plausible answer to whatever our prompts ask, so that a demo against the fake reads
 * sensibly: a statement stitched from the opinions in the order the sample got them (or
 * from a large group's quoted opinions), and ratings that rise with the words a member
 * shares with a statement, one member per request or a batch of them (LLM_JUDGE_BATCH,
 * used once a round has more members than LLM_CONCURRENCY).
 */
export function defaultChat(body: ChatBody): FakeReply {
  switch (schemaName(body)) {
    case 'consensus_statement': {
      const data = dataOf(body);
      const budget = Number(
        /at most (\d+) words/.exec(body.messages[0]?.content ?? '')?.[1] ?? 120,
      );
      return chatJson({ statement: stitch(data, budget) });
    }
    case 'approval_ratings': {
      const data = dataOf(body);
      const rate = overlapRater(data.statements as Record<string, string>);
      return chatJson({ ratings: rate(data.member as JudgedMember) });
    }
    case 'approval_ratings_batch':
      return batchJudgeReply(body);
    default:
      return { kind: 'chat', content: 'OK' };
  }
}

interface JudgedMember {
  opinion: string;
  critique: string | null;
}

/** A rating per member key and letter, from word overlap as for one member. */
export function batchJudgeReply(body: ChatBody): FakeReply {
  const data = dataOf(body);
  const members = data.members as Record<string, JudgedMember>;
  const rate = overlapRater(data.statements as Record<string, string>);
  const ratings: Record<string, Record<string, number>> = {};
  for (const [key, member] of Object.entries(members)) ratings[key] = rate(member);
  return chatJson({ ratings });
}

/**
 * Rates members against these statements (7-point, from the words they share). Each
 * statement's words are worked out once per request, not once per member (and kept for
 * the round's other requests, which show the same statements): the fake runs inside
 * `npm run bench`, and recomputing them for every member of a batch was tens of ms per
 * round of CPU measured as the bot's overhead.
 */
function overlapRater(
  statements: Record<string, string>,
): (member: JudgedMember) => Record<string, number> {
  const theirs = Object.entries(statements).map(
    ([letter, text]) => [letter, statementWords(text)] as const,
  );
  return (member) => {
    const own = words(`${member.opinion} ${member.critique ?? ''}`);
    const ratings: Record<string, number> = {};
    for (const [letter, set] of theirs) {
      let shared = 0;
      for (const w of own) if (set.has(w)) shared++;
      const overlap = own.size === 0 ? 0 : shared / Math.sqrt(own.size * Math.max(1, set.size));
      ratings[letter] = Math.max(1, Math.min(7, 1 + Math.round(overlap * 12)));
    }
    return ratings;
  };
}

/** Recent statements' words: a round's judge requests all show the same K statements. */
const knownStatements = new Map<string, Set<string>>();

function statementWords(text: string): Set<string> {
  let set = knownStatements.get(text);
  if (!set) {
    set = words(text);
    if (knownStatements.size >= 256) knownStatements.clear();
    knownStatements.set(text, set);
  }
  return set;
}

function stitch(data: Record<string, unknown>, budget: number): string {
  // A large group's prompt has summaries of opinion groups, with a few quotes each.
  const groups = (data.opinion_groups as { quoted_opinions?: string[] }[] | undefined) ?? [];
  const opinions =
    (data.opinions as string[] | undefined) ?? groups.flatMap((g) => g.quoted_opinions ?? []);
  // A critique's point, without a lead-in such as "It leaves out what matters most to me:".
  const critiques = ((data.critiques as string[] | undefined) ?? []).map((c) =>
    c.replace(/^[^:.!?]{1,60}:\s*/, ''),
  );
  // The first few substantial sentences in the order this sample got them, so samples differ.
  const clauses = [...critiques, ...opinions]
    .flatMap((o) => o.split(/(?<=[.!?])\s+/))
    .map((c) => c.trim().replace(/[.!?]+$/, ''))
    .filter((c) => c.split(/\s+/).length >= 5)
    .slice(0, 3)
    .map((c) => (/^I\b/.test(c) ? c : c.charAt(0).toLowerCase() + c.slice(1)));
  const text = `Our group holds several views: ${clauses.join('; ')}. We agree to look for a way forward that respects each of them.`;
  const all = text.split(/\s+/);
  return all.length <= budget ? text : `${all.slice(0, budget - 1).join(' ')}…`;
}

/** How many texts the fake has split into words (its tests count them). */
export const wordSetsMade = { count: 0 };

function words(text: string): Set<string> {
  wordSetsMade.count++;
  return new Set((text.toLowerCase().match(/[a-z']{4,}/g) ?? []).map((w) => w.replace(/'s$/, '')));
}

/** Bag-of-words vectors hashed into 64 dimensions: texts sharing words point alike. */
export function defaultEmbeddings(body: EmbeddingsBody): FakeReply {
  const inputs = [body.input].flat();
  return {
    kind: 'embeddings',
    vectors: inputs.map((text) => {
      const v = new Array<number>(64).fill(0);
      for (const w of words(String(text))) {
        let h = 0x811c9dc5;
        for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w.charCodeAt(i), 0x01000193);
        const slot = (h >>> 0) % 64;
        v[slot] = (v[slot] ?? 0) + 1;
      }
      v[63] = (v[63] ?? 0) + 0.1;
      return v;
    }),
  };
}
