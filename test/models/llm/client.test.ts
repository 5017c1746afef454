import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createOpenAIClient,
  DEFAULT_POLICY,
  ModelClient,
  retryAfterMs,
  type StructuredRequest,
} from '../../../src/models/llm/client.js';
import {
  ModelSetupError,
  RateLimitedError,
  TokenBudgetError,
} from '../../../src/models/llm/errors.js';
import { chatJson, FakeOpenAI, type FakeReply } from '../../fakes/openai.js';
import { RecordingLog } from '../../support/harness.js';
import { API_KEY, clientFor, MemoryLedger } from './support.js';

const Schema = z.strictObject({ answer: z.string() });
const request: StructuredRequest<z.infer<typeof Schema>> = {
  model: 'test-model',
  schemaName: 'test_answer',
  schema: Schema,
  messages: [
    { role: 'system', content: 'Answer.' },
    { role: 'user', content: 'Hello?' },
  ],
  maxTokens: 50,
  temperature: 0,
  check: (v) => (v.answer === 'bad' ? 'the answer is bad' : null),
};

describe('ModelClient against the fake server', () => {
  let fake: FakeOpenAI;
  beforeEach(async () => {
    fake = await FakeOpenAI.start();
    fake.onChat = () => chatJson({ answer: 'fine' });
  });
  afterEach(async () => {
    await fake.close();
  });

  it('sends a strict json_schema response_format and reads the usage the server reports', async () => {
    const { client } = clientFor(fake);
    fake.script('test_answer', {
      kind: 'chat',
      content: '{"answer":"fine"}',
      usage: { prompt_tokens: 11, completion_tokens: 3 },
    });
    const outcome = await client.structured(request, undefined, undefined);
    expect(outcome).toEqual({
      ok: true,
      value: { answer: 'fine' },
      usage: { calls: 1, promptTokens: 11, completionTokens: 3 },
      tries: 1,
    });
    const [body] = fake.chatBodies();
    expect(body?.response_format).toMatchObject({
      type: 'json_schema',
      json_schema: { name: 'test_answer', strict: true },
    });
    expect(body?.model).toBe('test-model');
    expect(fake.requests[0]?.headers.authorization).toBe(`Bearer ${API_KEY}`);
  });

  it('keeps the usage a server reports beside a body with no completion in it', async () => {
    const { client } = clientFor(fake, { maxRetries: 0 });
    fake.script('test_answer', {
      kind: 'raw',
      status: 200,
      body: {
        id: 'chatcmpl-filtered',
        object: 'chat.completion',
        choices: [],
        usage: { prompt_tokens: 123, completion_tokens: 0, total_tokens: 123 },
      },
    });
    const ledger = new MemoryLedger();
    const outcome = await client.structured(request, ledger, undefined);
    expect(outcome).toMatchObject({ ok: false, reason: 'the server sent no chat completion' });
    expect(outcome.usage).toEqual({ calls: 1, promptTokens: 123, completionTokens: 0 });
    expect(ledger.spent).toEqual({ calls: 1, promptTokens: 123, completionTokens: 0 });
  });

  it.each([
    ['only a total', { total_tokens: 15 }, { promptTokens: 4, completionTokens: 5 }],
    ['an empty object', {}, { promptTokens: 4, completionTokens: 5 }],
    [
      'a null completion count',
      { prompt_tokens: 10, completion_tokens: null },
      { promptTokens: 10, completionTokens: 5 },
    ],
    [
      'counts as strings',
      { prompt_tokens: '10', completion_tokens: '2' },
      { promptTokens: 4, completionTokens: 5 },
    ],
    [
      'a negative count',
      { prompt_tokens: -1_000_000, completion_tokens: 2 },
      { promptTokens: 4, completionTokens: 2 },
    ],
  ])(
    'uses the answer beside usage with %s, estimating what it does not count',
    async (_, usage, counted) => {
      const { client } = clientFor(fake, { maxRetries: 0 });
      fake.script('test_answer', {
        kind: 'raw',
        status: 200,
        body: {
          id: 'chatcmpl-odd-usage',
          object: 'chat.completion',
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: '{"answer":"fine"}' },
              finish_reason: 'stop',
            },
          ],
          usage,
        },
      });
      const outcome = await client.structured(request, undefined, undefined);
      // The estimates: 13 prompt characters / 4 and 17 content characters / 4, rounded up.
      expect(outcome).toEqual({
        ok: true,
        value: { answer: 'fine' },
        usage: { calls: 1, ...counted },
        tries: 1,
      });

      fake.script('embeddings', {
        kind: 'raw',
        status: 200,
        body: {
          object: 'list',
          data: [{ object: 'embedding', index: 0, embedding: [1, 0] }],
          usage,
        },
      });
      const embedded = await client.embed('emb', ['abcdefgh'], undefined, undefined);
      expect(embedded).toMatchObject({ ok: true, value: [[1, 0]] });
      expect(embedded.usage.promptTokens).toBe(counted.promptTokens === 10 ? 10 : 2);
    },
  );

  it.each([
    ['a query', '?api-version=2024-10-21'],
    ['a query and a trailing slash before it', '/?api-version=2024-10-21'],
  ])('sends to the base URL with %s, the query on every request', async (_, suffix) => {
    const openai = createOpenAIClient({ baseURL: `${fake.baseURL}${suffix}`, timeoutMs: 2_000 });
    const client = new ModelClient(openai, { ...DEFAULT_POLICY, log: new RecordingLog() });
    const outcome = await client.structured(request, undefined, undefined);
    expect(outcome).toMatchObject({ ok: true, value: { answer: 'fine' } });
    const embedded = await client.embed('emb', ['a'], undefined, undefined);
    expect(embedded.ok).toBe(true);
    expect(fake.requests.map((r) => [r.path, r.query])).toEqual([
      ['/v1/chat/completions', 'api-version=2024-10-21'],
      ['/v1/embeddings', 'api-version=2024-10-21'],
    ]);
  });

  it.each([
    ['non-JSON content', { kind: 'chat', content: 'Sure! Here is the answer: fine' }, /not JSON/],
    ['empty content', { kind: 'chat', content: ' \n' }, /the output is empty/],
    ['JSON of the wrong shape', chatJson({ reply: 'fine' }), /wrong shape/],
    ['a value the check refuses', chatJson({ answer: 'bad' }), /the answer is bad/],
    [
      'output cut off at the token limit',
      { kind: 'chat', content: '{"answer": "fi', finishReason: 'length' },
      /cut off/,
    ],
    [
      'a refusal',
      { kind: 'chat', content: '', refusal: 'I can’t help with that request.' },
      /the model refused/,
    ],
    ['a malformed response body', { kind: 'malformed' }, /unreadable response/],
    ['a 500', { kind: 'error', status: 500 }, /answered 500/],
    // A request timeout and a conflict, as proxies and local servers send them: worth a
    // retry, as in the OpenAI SDK's own rule (which ours replaces: its retries are off).
    ['a 408', { kind: 'error', status: 408 }, /answered 408/],
    ['a 409', { kind: 'error', status: 409 }, /answered 409/],
  ] as const)('retries %s, then gives up with the reason', async (_, bad, reason) => {
    const { client } = clientFor(fake, { maxRetries: 1 });
    fake.script('test_answer', bad);
    const recovered = await client.structured(request, undefined, undefined);
    expect(recovered).toMatchObject({ ok: true, value: { answer: 'fine' }, tries: 2 });

    fake.script('test_answer', bad, bad);
    const failed = await client.structured(request, undefined, undefined);
    expect(failed.ok).toBe(false);
    expect(!failed.ok && failed.reason).toMatch(reason);
    expect(failed.usage.calls).toBe(2);
    expect(fake.chatBodies()).toHaveLength(4);
  });

  it.each([
    ['a json fence', '```json\n{"answer":"ok"}\n```'],
    ['a bare fence with blank space around it', '\n  ```\n{"answer": "ok"}\n```  \n'],
  ])('accepts JSON wrapped in %s (local models do that) at the first try', async (_, content) => {
    const { client } = clientFor(fake, { maxRetries: 1 });
    fake.script('test_answer', { kind: 'chat', content });
    const outcome = await client.structured(request, undefined, undefined);
    expect(outcome).toMatchObject({ ok: true, value: { answer: 'ok' }, tries: 1 });
    expect(fake.chatBodies()).toHaveLength(1);
  });

  it('counts a request that times out as failed and retries it', async () => {
    const { client } = clientFor(fake, { maxRetries: 1 }, 200);
    fake.script('test_answer', { kind: 'hang' });
    const outcome = await client.structured(request, undefined, undefined);
    expect(outcome).toMatchObject({ ok: true, tries: 2 });

    fake.script('test_answer', { kind: 'hang' }, { kind: 'hang' });
    const failed = await client.structured(request, undefined, undefined);
    expect(!failed.ok && failed.reason).toMatch(/timed out/);
  });

  it('says a connection closed mid-body or refused is a connection failure, not a timeout, and retries it', async () => {
    const { client } = clientFor(fake, { maxRetries: 1 }, 5_000);
    fake.script('test_answer', { kind: 'cut' });
    const outcome = await client.structured(request, undefined, undefined);
    expect(outcome).toMatchObject({ ok: true, tries: 2 });

    fake.script('test_answer', { kind: 'cut' }, { kind: 'cut' });
    const failed = await client.structured(request, undefined, undefined);
    expect(failed.ok).toBe(false);
    const reason = failed.ok ? '' : failed.reason;
    expect(reason).toBe(
      'could not reach the model server (the server closed the connection before the whole response arrived)',
    );

    await fake.close();
    const refused = await client.structured(request, undefined, undefined);
    expect(refused.ok ? '' : refused.reason).toMatch(
      /^could not reach the model server \(connect ECONNREFUSED 127\.0\.0\.1:\d+\)$/,
    );
  });

  it('does not retry a 429 itself but raises it with the server retry-after', async () => {
    const { client } = clientFor(fake, { maxRetries: 3 });
    fake.script('test_answer', { kind: 'rate-limit', retryAfterSeconds: 2 });
    await expect(client.structured(request, undefined, undefined)).rejects.toMatchObject({
      name: 'RateLimitedError',
      retryAfterMs: 2_000,
    });
    // Within that window the client sends nothing more: it fails at once.
    const paused = await client.structured(request, undefined, undefined).catch((e) => e);
    expect(paused).toBeInstanceOf(RateLimitedError);
    expect(paused.retryAfterMs).toBeGreaterThan(1_000);
    expect(fake.chatBodies()).toHaveLength(1);

    fake.script('test_answer', { kind: 'rate-limit', retryAfterMs: 250, retryAfterSeconds: 1 });
    const fresh = clientFor(fake, { maxRetries: 3 }).client;
    const error = await fresh.structured(request, undefined, undefined).catch((e) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(error.retryAfterMs).toBe(250);
    expect(fake.chatBodies()).toHaveLength(2);

    // A blank retry-after-ms is no value: the server's retry-after holds.
    fake.script('test_answer', {
      kind: 'error',
      status: 429,
      headers: { 'retry-after-ms': '', 'retry-after': '20' },
    });
    const blank = clientFor(fake, { maxRetries: 3 }).client;
    const waited = await blank.structured(request, undefined, undefined).catch((e) => e);
    expect(waited).toBeInstanceOf(RateLimitedError);
    expect(waited.retryAfterMs).toBe(20_000);

    // A server asking for a day (a spent daily quota, or a wrong date) pauses no round
    // that long: ten minutes at most, then the job's own patience decides.
    fake.script('test_answer', { kind: 'rate-limit', retryAfterSeconds: 86_400 });
    const quota = clientFor(fake, { maxRetries: 3 }).client;
    const capped = await quota.structured(request, undefined, undefined).catch((e) => e);
    expect(capped).toBeInstanceOf(RateLimitedError);
    expect(capped.retryAfterMs).toBe(10 * 60_000);
  });

  it('fails at once on 401/404 without echoing the API key', async () => {
    const { client } = clientFor(fake, { maxRetries: 3 });
    fake.script('test_answer', {
      kind: 'error',
      status: 401,
      message: `Incorrect API key provided: ${API_KEY}. You can find your API key at ...`,
    });
    const error = await client.structured(request, undefined, undefined).catch((e) => e);
    expect(error).toBeInstanceOf(ModelSetupError);
    expect(error.message).toMatch(/refused the request \(401/);
    expect(error.message).not.toContain(API_KEY);
    expect(error.message).not.toMatch(/0123456789abcdef/);
    expect(fake.chatBodies()).toHaveLength(1);
  });

  it('gives up on a 400 without retrying it', async () => {
    const { client } = clientFor(fake, { maxRetries: 3 });
    fake.script('test_answer', { kind: 'error', status: 400, message: 'context too long' });
    const outcome = await client.structured(request, undefined, undefined);
    expect(outcome).toMatchObject({ ok: false, tries: 1 });
    expect(!outcome.ok && outcome.reason).toMatch(/400 context too long/);
  });

  it('never has more requests in flight than its concurrency', async () => {
    const { client } = clientFor(fake, { concurrency: 2 });
    let inFlight = 0;
    let most = 0;
    fake.onChat = async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 30));
      inFlight--;
      return chatJson({ answer: 'fine' });
    };
    const outcomes = await Promise.all(
      Array.from({ length: 6 }, () => client.structured(request, undefined, undefined)),
    );
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(most).toBe(2);
  });

  it('meters every call through the ledger and refuses a call the budget cannot cover', async () => {
    const { client } = clientFor(fake, { roundTokenBudget: 1_000, requestsPerMinute: 60 });
    const ledger = new MemoryLedger();
    fake.script('test_answer', {
      kind: 'chat',
      content: '{"answer":"fine"}',
      usage: { prompt_tokens: 950, completion_tokens: 20 },
    });
    await client.structured(request, ledger, undefined);
    expect(ledger.spent).toEqual({ calls: 1, promptTokens: 950, completionTokens: 20 });
    expect(ledger.held).toBe(0);
    expect(ledger.slots).toBe(1);
    await expect(client.structured(request, ledger, undefined)).rejects.toBeInstanceOf(
      TokenBudgetError,
    );
    expect(fake.chatBodies()).toHaveLength(1);
  });

  it('asks for float embeddings in one batched call and returns them in input order', async () => {
    const { client } = clientFor(fake);
    fake.script('embeddings', {
      kind: 'embeddings',
      vectors: [
        [1, 0],
        [0, 1],
        [0.5, 0.5],
      ],
    });
    const outcome = await client.embed('emb', ['a', 'b', 'c'], undefined, undefined);
    expect(outcome).toMatchObject({
      ok: true,
      value: [
        [1, 0],
        [0, 1],
        [0.5, 0.5],
      ],
    });
    expect(fake.embeddingBodies()).toEqual([
      { model: 'emb', input: ['a', 'b', 'c'], encoding_format: 'float' },
    ]);
  });

  it('ignores an embedding whose index is past the texts sent, keeping one vector per text', async () => {
    const { client } = clientFor(fake, { maxRetries: 1 });
    // The fake numbers its vectors 0, 1, 2: one more than the two texts.
    fake.script('embeddings', {
      kind: 'embeddings',
      vectors: [
        [1, 0],
        [0, 1],
        [0.5, 0.5],
      ],
    });
    const outcome = await client.embed('emb', ['a', 'b'], undefined, undefined);
    expect(outcome).toMatchObject({
      ok: true,
      value: [
        [1, 0],
        [0, 1],
      ],
      tries: 1,
    });
    expect(outcome.ok && outcome.value).toHaveLength(2);
  });

  it.each([
    [
      'fewer vectors than texts',
      [
        [1, 0],
        [0, 1],
      ],
    ],
    [
      'vectors of different sizes',
      [
        [1, 0],
        [0, 1],
        [0.5, 0.5, 0],
      ],
    ],
    ['empty vectors', [[], [], []]],
  ])('retries %s, then gives up with the reason', async (_, vectors) => {
    const { client } = clientFor(fake, { maxRetries: 1 });
    const bad: FakeReply = { kind: 'embeddings', vectors };
    const good = {
      kind: 'embeddings' as const,
      vectors: [
        [1, 0],
        [0, 1],
        [0.5, 0.5],
      ],
    };
    fake.script('embeddings', bad, good);
    const recovered = await client.embed('emb', ['a', 'b', 'c'], undefined, undefined);
    expect(recovered).toMatchObject({ ok: true, value: good.vectors, tries: 2 });

    fake.script('embeddings', bad, bad);
    const failed = await client.embed('emb', ['a', 'b', 'c'], undefined, undefined);
    expect(failed.ok).toBe(false);
    expect(!failed.ok && failed.reason).toMatch(/expected 3 embeddings of one size/);
    expect(fake.embeddingBodies()).toHaveLength(4);
  });
});

describe('retryAfterMs', () => {
  it('reads retry-after-ms first, then retry-after as seconds or a date', () => {
    expect(retryAfterMs(new Headers({ 'retry-after-ms': '150', 'retry-after': '9' }))).toBe(150);
    expect(retryAfterMs(new Headers({ 'retry-after': '1.5' }))).toBe(1_500);
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(retryAfterMs(new Headers({ 'retry-after': 'Wed, 01 Jan 2025 00:00:03 GMT' }), now)).toBe(
      3_000,
    );
    expect(retryAfterMs(new Headers({ 'retry-after': 'soon' }))).toBeNull();
    expect(retryAfterMs(undefined)).toBeNull();
  });
});
