import http from 'node:http';
import https from 'node:https';
import { promisify } from 'node:util';
import { brotliDecompress, gunzip, inflate } from 'node:zlib';

/**
 * The `fetch` the openai SDK is given: plain node:http(s) with keep-alive agents. Node's
 * own fetch (undici) pipes every request and response through WHATWG streams; in a
 * profile of zero-latency rounds that was ~0.7 ms of CPU per model call, more than
 * everything else of a call together, and a round makes K + N calls or ~N/12 batched
 * ones. The whole body is read before the Response is made, which suits our calls (none
 * streams). A body that is not a string or bytes (a stream, a form) goes to Node's fetch
 * unchanged.
 *
 * The Response it returns is a real one (a subclass) that keeps the body as the bytes it
 * read: json() and text() decode them directly rather than through a stream, and its
 * headers are a Headers subclass over the map node:http parsed, so reading one (the SDK
 * reads several per call, and lists them all for its log lines) neither validates nor
 * sorts. Both together were about a third of the CPU of a call.
 */
export function createNodeFetch(): typeof fetch {
  const agents = {
    'http:': new http.Agent({ keepAlive: true }),
    'https:': new https.Agent({ keepAlive: true }),
  };
  // A client talks to one server, so a handful of URLs: each is parsed once.
  const targets = new Map<string, Target | null>();
  const targetOf = (input: string): Target | null => {
    let target = targets.get(input);
    if (target === undefined) {
      target = parseTarget(input);
      if (targets.size >= MAX_TARGETS) targets.clear();
      targets.set(input, target);
    }
    return target;
  };
  return async (input, init) => {
    const body = init?.body;
    const plain = body === undefined || body === null || typeof body === 'string';
    const bytes = body instanceof Uint8Array;
    if (input instanceof Request || !(plain || bytes)) return fetch(input, init);
    const target = targetOf(String(input));
    if (!target) return fetch(input, init);
    const agent = target.secure ? agents['https:'] : agents['http:'];
    const transport = target.secure ? https : http;
    const signal = init?.signal ?? undefined;
    signal?.throwIfAborted();

    const headers = plainHeaders(init?.headers);
    // As Node's fetch does: ask for compression, undo it below.
    headers['accept-encoding'] ??= 'gzip, deflate, br';
    const payload = typeof body === 'string' ? Buffer.from(body) : bytes ? body : null;
    if (payload) headers['content-length'] = String(payload.byteLength);

    const { status, statusText, received, raw } = await new Promise<{
      status: number;
      statusText: string;
      received: http.IncomingHttpHeaders;
      raw: Buffer;
    }>((resolve, reject) => {
      const request = transport.request(
        {
          protocol: target.protocol,
          hostname: target.hostname,
          port: target.port,
          path: target.path,
          method: init?.method ?? 'GET',
          headers,
          agent,
          ...(signal ? { signal } : {}),
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 0,
              statusText: response.statusMessage ?? '',
              received: response.headers,
              raw: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks),
            }),
          );
          // A connection reset mid-body, or the abort (the SDK's timeout). Only the abort
          // is an AbortError: the SDK reads any AbortError as its timeout, and a server
          // that hung up mid-body was being reported as "the request timed out".
          response.on('error', reject);
          response.on('aborted', () =>
            reject(
              signal?.aborted
                ? abortReason(signal)
                : new Error('the server closed the connection before the whole response arrived'),
            ),
          );
        },
      );
      request.on('error', (error) => reject(signal?.aborted ? abortReason(signal) : error));
      request.end(payload ?? undefined);
    });

    const encoding = received['content-encoding'];
    const decoded = await decode(raw, typeof encoding === 'string' ? encoding : null);
    if (decoded !== raw) {
      delete received['content-encoding'];
      delete received['content-length'];
    }
    return new BufferedResponse(decoded, status, statusText, new ReceivedHeaders(received));
  };
}

/** Where a URL's requests go, worked out once per URL. */
interface Target {
  secure: boolean;
  protocol: 'http:' | 'https:';
  hostname: string;
  port: string;
  path: string;
}

const MAX_TARGETS = 64;

function parseTarget(input: string): Target | null {
  const url = new URL(input);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  return {
    secure: url.protocol === 'https:',
    protocol: url.protocol,
    // "[::1]" as a host name is "::1" to node:http.
    hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
    port: url.port,
    path: `${url.pathname}${url.search}`,
  };
}

/** The SDK's request headers (a Headers, a record or pairs) as node:http takes them. */
function plainHeaders(init: HeadersInit | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (init === undefined) return out;
  if (init instanceof Headers) {
    init.forEach((value, name) => {
      out[name] = value;
    });
    return out;
  }
  const pairs: Iterable<readonly [string, string]> = Array.isArray(init)
    ? (init as [string, string][])
    : Object.entries(init as Record<string, string>);
  for (const [name, value] of pairs) {
    const key = name.toLowerCase();
    out[key] = key in out ? `${out[key]}, ${value}` : String(value);
  }
  return out;
}

/**
 * Response headers as node:http parsed them (names lower-case, repeated headers joined,
 * set-cookie kept apart). Read-only in practice, but kept mutable like any Headers.
 */
class ReceivedHeaders extends Headers {
  readonly #values = new Map<string, string>();
  readonly #cookies: string[] = [];
  /** #values in name order, until the next change. */
  #order: [string, string][] | null = null;

  constructor(received: http.IncomingHttpHeaders) {
    super();
    for (const [name, value] of Object.entries(received)) {
      if (value === undefined) continue;
      if (name === 'set-cookie') {
        const cookies = Array.isArray(value) ? value : [value];
        this.#cookies.push(...cookies);
        this.#values.set(name, cookies.join(', '));
      } else {
        this.#values.set(name, Array.isArray(value) ? value.join(', ') : value);
      }
    }
  }

  override get(name: string): string | null {
    return this.#values.get(name.toLowerCase()) ?? null;
  }
  override has(name: string): boolean {
    return this.#values.has(name.toLowerCase());
  }
  override set(name: string, value: string): void {
    this.#order = null;
    this.#values.set(name.toLowerCase(), String(value));
  }
  override append(name: string, value: string): void {
    this.#order = null;
    const key = name.toLowerCase();
    const known = this.#values.get(key);
    this.#values.set(key, known === undefined ? String(value) : `${known}, ${value}`);
  }
  override delete(name: string): void {
    this.#order = null;
    this.#values.delete(name.toLowerCase());
  }
  override getSetCookie(): string[] {
    return [...this.#cookies];
  }
  override forEach(
    callback: (value: string, name: string, parent: Headers) => void,
    thisArg?: unknown,
  ): void {
    for (const [name, value] of this.#sorted()) callback.call(thisArg, value, name, this);
  }
  override *entries(): HeadersIterator<[string, string]> {
    yield* this.#sorted();
  }
  override *keys(): HeadersIterator<string> {
    for (const [name] of this.#sorted()) yield name;
  }
  override *values(): HeadersIterator<string> {
    for (const [, value] of this.#sorted()) yield value;
  }
  override [Symbol.iterator](): HeadersIterator<[string, string]> {
    return this.entries();
  }

  /** In name order, as Headers iterates; sorted once, while nothing changes. */
  #sorted(): [string, string][] {
    this.#order ??= [...this.#values].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return this.#order;
  }
}

/**
 * A Response whose body is already in memory: json() and text() decode the bytes at
 * once, and `body` is a stream over them only for a caller that asks for one.
 */
class BufferedResponse extends Response {
  readonly #bytes: Buffer;
  readonly #headers: Headers;
  #used = false;
  #stream: ReadableStream<Uint8Array<ArrayBuffer>> | undefined;

  constructor(bytes: Buffer, status: number, statusText: string, headers: Headers) {
    // Statuses that may not carry a body (Response refuses one) have none here either.
    const bodyless = status === 204 || status === 205 || status === 304;
    super(null, { status, statusText });
    this.#bytes = bodyless ? Buffer.alloc(0) : bytes;
    this.#headers = headers;
  }

  override get headers(): Headers {
    return this.#headers;
  }
  override get bodyUsed(): boolean {
    return this.#used;
  }
  override get body(): ReadableStream<Uint8Array<ArrayBuffer>> | null {
    if (this.#bytes.length === 0) return null;
    // Made on first access; the bytes count as read once the stream is read.
    this.#stream ??= new ReadableStream({
      pull: (controller) => {
        controller.enqueue(this.#take());
        controller.close();
      },
    });
    return this.#stream;
  }
  override async text(): Promise<string> {
    return this.#take().toString('utf8');
  }
  override async json(): Promise<unknown> {
    return JSON.parse(this.#take().toString('utf8'));
  }
  override async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = this.#take();
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }
  override async bytes(): Promise<Uint8Array<ArrayBuffer>> {
    return new Uint8Array(await this.arrayBuffer());
  }
  override async blob(): Promise<Blob> {
    return new Blob([await this.arrayBuffer()], {
      type: this.#headers.get('content-type') ?? '',
    });
  }
  override clone(): Response {
    if (this.#used) throw new TypeError('Response.clone: the body has already been read');
    return new BufferedResponse(this.#bytes, this.status, this.statusText, this.#headers);
  }

  #take(): Buffer<ArrayBuffer> {
    if (this.#used) throw new TypeError('Body is unusable: the body has already been read');
    this.#used = true;
    // Buffers from concat and zlib sit on a plain ArrayBuffer, never a shared one.
    return this.#bytes as Buffer<ArrayBuffer>;
  }
}

const decoders: Record<string, (buffer: Buffer) => Promise<Buffer>> = {
  gzip: promisify(gunzip),
  'x-gzip': promisify(gunzip),
  deflate: promisify(inflate),
  br: promisify(brotliDecompress),
};

async function decode(raw: Buffer, encoding: string | null): Promise<Buffer> {
  const name = encoding?.trim().toLowerCase() ?? '';
  const decoder = decoders[name];
  return decoder && raw.length > 0 ? decoder(raw) : raw;
}

/** What fetch rejects with when its signal fires: the signal's reason, an AbortError. */
function abortReason(signal: AbortSignal | undefined): unknown {
  if (signal?.reason !== undefined) return signal.reason;
  return new DOMException('This operation was aborted', 'AbortError');
}
