import http from 'node:http';
import https from 'node:https';
import { promisify } from 'node:util';
import { brotliDecompress, gunzip, inflate } from 'node:zlib';

/**
 * The `fetch` the openai SDK is given: plain node:http(s) with keep-alive agents. Node's
 * own fetch (undici) pipes every
 * request and response through WHATWG streams; in a profile of zero-latency rounds that
 * was ~0.7 ms of CPU per model call, more than everything else of a call together, and
 * a round makes K + N calls or ~N/12 batched ones. The whole body is read before the
 * Response is made, which suits our calls (none streams). A body that is not a string
 * or bytes (a stream, a form) goes to Node's fetch unchanged.
 */
export function createNodeFetch(): typeof fetch {
  const agents = {
    'http:': new http.Agent({ keepAlive: true }),
    'https:': new https.Agent({ keepAlive: true }),
  };
  return async (input, init) => {
    const body = init?.body;
    const plain = body === undefined || body === null || typeof body === 'string';
    const bytes = body instanceof Uint8Array;
    if (input instanceof Request || !(plain || bytes)) return fetch(input, init);
    const url = new URL(String(input));
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return fetch(input, init);
    const secure = url.protocol === 'https:';
    const agent = secure ? agents['https:'] : agents['http:'];
    const transport = secure ? https : http;
    const signal = init?.signal ?? undefined;
    signal?.throwIfAborted();

    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((value, name) => {
      headers[name] = value;
    });
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
        url,
        { method: init?.method ?? 'GET', headers, agent, ...(signal ? { signal } : {}) },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 0,
              statusText: response.statusMessage ?? '',
              received: response.headers,
              raw: Buffer.concat(chunks),
            }),
          );
          // A connection reset mid-body, or the abort (the SDK's timeout).
          response.on('error', reject);
          response.on('aborted', () => reject(abortReason(signal)));
        },
      );
      request.on('error', (error) => reject(signal?.aborted ? abortReason(signal) : error));
      request.end(payload ?? undefined);
    });

    const responseHeaders = new Headers();
    for (const [name, value] of Object.entries(received)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) responseHeaders.append(name, v);
    }
    const decoded = await decode(raw, responseHeaders.get('content-encoding'));
    if (decoded !== raw) {
      responseHeaders.delete('content-encoding');
      responseHeaders.delete('content-length');
    }
    // Statuses that may not carry a body (Response refuses one).
    const bodyless = status === 204 || status === 205 || status === 304;
    // Buffers from concat and zlib sit on a plain ArrayBuffer, never a shared one.
    const content = decoded as Uint8Array<ArrayBuffer>;
    return new Response(bodyless ? null : content, {
      status,
      statusText,
      headers: responseHeaders,
    });
  };
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
