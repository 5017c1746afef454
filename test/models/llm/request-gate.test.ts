import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createOpenAIClient, ModelClient } from '../../../src/models/llm/client.js';
import { RedisRequestGate } from '../../../src/pipeline/request-gate.js';
import { FakeOpenAI } from '../../fakes/openai.js';
import { RecordingLog } from '../../support/harness.js';
import { deletePrefix, testRedis } from '../../support/redis.js';

describe('the global cap on model requests in flight (Redis lease semaphore)', () => {
  let redis: Redis | undefined;
  let prefix = '';
  let fake: FakeOpenAI | undefined;
  afterEach(async () => {
    await fake?.close();
    if (redis) {
      await deletePrefix(redis, prefix);
      await redis.quit();
    }
    redis = undefined;
    fake = undefined;
  });

  it('three "processes" with 4 slots each never have more than 5 requests at the server', async () => {
    const env = testRedis();
    prefix = env.prefix;
    redis = env.connect();
    fake = await FakeOpenAI.start({ latencyMs: 20 });
    let inFlight = 0;
    let peak = 0;
    fake.onChat = async () => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      // Long enough that, on a loaded machine too, the others' requests arrive meanwhile
      // and the cap is reached (with 5 ms this test failed once on a busy machine).
      await new Promise((r) => setTimeout(r, 50));
      inFlight--;
      return { kind: 'chat', content: '{"statement": "ok"}' };
    };
    const url = fake.baseURL;
    const clients = [0, 1, 2].map(
      () =>
        new ModelClient(createOpenAIClient({ baseURL: url, timeoutMs: 5_000 }), {
          maxRetries: 0,
          concurrency: 4,
          requestsPerMinute: 0,
          roundTokenBudget: 0,
          retryDelayMs: 5,
          gate: new RedisRequestGate(redis as Redis, `${prefix}:in-flight`, {
            cap: 5,
            leaseMs: 10_000,
            pollMs: 2,
          }),
          log: new RecordingLog(),
        }),
    );
    const { z } = await import('zod');
    const schema = z.object({ statement: z.string() });
    const outcomes = await Promise.all(
      clients.flatMap((client) =>
        Array.from({ length: 10 }, () =>
          client.structured(
            {
              model: 'm',
              schemaName: 'consensus_statement',
              schema,
              messages: [{ role: 'user', content: 'x' }],
              maxTokens: 10,
              temperature: 0,
            },
            undefined,
            undefined,
          ),
        ),
      ),
    );
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(peak).toBeLessThanOrEqual(5);
    expect(peak).toBeGreaterThanOrEqual(4);
    const gate = new RedisRequestGate(redis, `${prefix}:in-flight`, { cap: 5, leaseMs: 10_000 });
    expect(await gate.inFlight()).toBe(0);
  });

  it('frees the places of a holder that died once its leases expire', async () => {
    const env = testRedis();
    prefix = env.prefix;
    redis = env.connect();
    let clock = 1_000;
    const gate = new RedisRequestGate(redis, `${prefix}:in-flight`, {
      cap: 1,
      leaseMs: 100,
      pollMs: 1,
      now: () => clock,
    });
    await gate.acquire(); // never released: its holder "crashed"
    const waiting = gate.acquire();
    await new Promise((r) => setTimeout(r, 20));
    clock += 101;
    const release = await waiting;
    await release();
    expect(await gate.inFlight()).toBe(0);
  });
});
