import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { createNodeFetch } from '../../../src/models/llm/node-fetch.js';

describe('the fetch given to the openai SDK', () => {
  let server: Server | null = null;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    server = null;
  });

  async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
    server = createServer(handler);
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('sends method, headers and body, and reads status, headers and JSON back', async () => {
    const url = await serve((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        res.writeHead(201, { 'content-type': 'application/json', 'x-echo': req.headers['x-key'] });
        res.end(
          JSON.stringify({ method: req.method, length: req.headers['content-length'], body }),
        );
      });
    });
    const response = await createNodeFetch()(`${url}/v1/x`, {
      method: 'POST',
      headers: { 'x-key': 'k1', 'content-type': 'application/json' },
      body: '{"a":"é"}',
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('x-echo')).toBe('k1');
    // Content-length in bytes, not characters.
    expect(await response.json()).toEqual({ method: 'POST', length: '10', body: '{"a":"é"}' });
  });

  it('answers with a real Response whose headers and body read as fetch would give them', async () => {
    const url = await serve((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.setHeader('x-request-id', 'req_1');
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.setHeader('x-many', ['one', 'two']);
      res.end(JSON.stringify({ ok: true }));
    });
    const response = await createNodeFetch()(`${url}/v1/chat/completions?x=1`, { method: 'POST' });
    expect(response).toBeInstanceOf(Response);
    expect(response.ok).toBe(true);
    expect(response.headers).toBeInstanceOf(Headers);
    expect(response.headers.get('X-Request-Id')).toBe('req_1');
    expect(response.headers.get('x-many')).toBe('one, two');
    expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(response.headers.has('content-type')).toBe(true);
    // In name order, as Headers iterates.
    const names = [...response.headers.keys()];
    expect(names).toEqual([...names].sort());
    expect(Object.fromEntries(response.headers.entries())['x-request-id']).toBe('req_1');
    const copy = response.clone();
    expect(await response.json()).toEqual({ ok: true });
    expect(response.bodyUsed).toBe(true);
    await expect(response.text()).rejects.toThrow(TypeError);
    expect(await new Response(copy.body).text()).toBe('{"ok":true}');
  });

  it('undoes gzip, as fetch does', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(gzipSync(JSON.stringify({ ok: true })));
    });
    const response = await createNodeFetch()(url);
    expect(response.headers.get('content-encoding')).toBeNull();
    expect(await response.json()).toEqual({ ok: true });
  });

  it('gives a 204 no body', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(204).end();
    });
    const response = await createNodeFetch()(url, { method: 'DELETE' });
    expect(response.status).toBe(204);
    expect(response.body).toBeNull();
  });

  it('rejects with an AbortError when the signal fires mid-request', async () => {
    const url = await serve(() => {
      // Never answers.
    });
    const controller = new AbortController();
    const pending = createNodeFetch()(url, { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('rejects like fetch when nothing listens', async () => {
    const url = await serve(() => undefined);
    server?.close();
    server?.closeAllConnections();
    await new Promise((r) => setTimeout(r, 10));
    await expect(createNodeFetch()(url)).rejects.toBeInstanceOf(Error);
  });
});
