import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createOpenAIClient, ModelClient } from '../../../src/models/llm/client.js';
import { RedisRequestGate } from '../../../src/pipeline/request-gate.js';
import { FakeOpenAI } from '../../fakes/openai.js';
import { withClockOff } from '../../support/clock.js';
import { RecordingLog } from '../../support/harness.js';
import { deletePrefix, testRedis } from '../../support/redis.js';
import { MemoryLedger } from './support.js';

const StatementSchema = z.object({ statement: z.string() });

/** One structured call for a statement, through the client's gate (and `ledger`'s slots). */
function askStatement(client: ModelClient, ledger: Parameters<ModelClient['structured']>[1]) {
  return client.structured(
    {
      model: 'm',
      schemaName: 'consensus_statement',
      schema: StatementSchema,
      messages: [{ role: 'user', content: 'x' }],
      maxTokens: 10,
      temperature: 0,
    },
    ledger,
    undefined,
  );
}

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
    const outcomes = await Promise.all(
      clients.flatMap((client) =>
        Array.from({ length: 10 }, () => askStatement(client, undefined)),
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
    const gateOn = (connection: Redis) =>
      new RedisRequestGate(connection, `${prefix}:in-flight`, {
        cap: 1,
        leaseMs: 100,
        pollMs: 1,
        clock: () => clock,
      });
    // Never released, and its connection gone as with a crashed process: its lease is
    // no longer renewed.
    const dead = env.connect();
    await gateOn(dead).acquire();
    dead.disconnect();
    const gate = gateOn(redis);
    const waiting = gate.acquire();
    await new Promise((r) => setTimeout(r, 20));
    clock += 101;
    const release = await waiting;
    await release();
    expect(await gate.inFlight()).toBe(0);
  });

  it("keeps a live holder's place past its lease, and gives it to no other process", async () => {
    const env = testRedis();
    prefix = env.prefix;
    redis = env.connect();
    const other = env.connect();
    const gateOn = (connection: Redis) =>
      new RedisRequestGate(connection, `${prefix}:in-flight`, { cap: 1, leaseMs: 90, pollMs: 2 });
    const release = await gateOn(redis).acquire();
    let admitted = false;
    const waiting = gateOn(other)
      .acquire()
      .then((r) => {
        admitted = true;
        return r;
      });
    // Over four leases: a request can wait this long for a requests-per-minute slot.
    await sleep(400);
    expect(admitted).toBe(false);
    await release();
    const releaseOther = await waiting;
    expect(admitted).toBe(true);
    await releaseOther();
    await other.quit();
  });

  /** LLM_TIMEOUT_MS 60 s + 5 s, as in production (src/app/llm-gate.ts). */
  const PRODUCTION_LEASE_MS = 65_000;
  /** More than a lease: by a clock this far ahead, a live lease looks long expired. */
  const SKEW_MS = 120_000;

  /** Whether `gate` admits a request within `ms` (its place then given back at once). */
  async function admitsWithin(gate: RedisRequestGate, ms: number): Promise<boolean> {
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(), ms);
    try {
      await (await gate.acquire(stop.signal))();
      return true;
    } catch (error) {
      if (stop.signal.aborted) return false;
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  it.each([
    ['the one asking second', 'ahead', 0, SKEW_MS],
    ['the holder', 'behind', -SKEW_MS, 0],
  ] as const)(
    'gives no second place under a cap of 1 when %s runs two minutes %s',
    async (_who, _direction, holderOffMs, askerOffMs) => {
      const env = testRedis();
      prefix = env.prefix;
      redis = env.connect();
      const other = env.connect();
      const gateOn = (connection: Redis) =>
        new RedisRequestGate(connection, `${prefix}:in-flight`, {
          cap: 1,
          leaseMs: PRODUCTION_LEASE_MS,
          pollMs: 2,
        });
      const holder = redis;
      const release = await withClockOff(holderOffMs, () => gateOn(holder).acquire());
      expect(await withClockOff(askerOffMs, () => admitsWithin(gateOn(other), 200))).toBe(false);
      await release();
      expect(await admitsWithin(gateOn(other), 5_000)).toBe(true);
      await other.quit();
    },
  );

  it('two processes whose requests wait longer than a lease for their rate slot still send one at a time', async () => {
    const env = testRedis();
    prefix = env.prefix;
    redis = env.connect();
    fake = await FakeOpenAI.start();
    let inFlight = 0;
    let peak = 0;
    fake.onChat = async () => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await sleep(150);
      inFlight--;
      return { kind: 'chat', content: '{"statement": "ok"}' };
    };
    /** LLM_REQUESTS_PER_MINUTE's wait, longer than the gate's lease (100 ms). */
    class SlowRateLedger extends MemoryLedger {
      override async awaitSlot(): Promise<void> {
        await sleep(250);
      }
    }
    const url = fake.baseURL;
    const connections = [env.connect(), env.connect()];
    const processes = connections.map((connection) => ({
      client: new ModelClient(createOpenAIClient({ baseURL: url, timeoutMs: 5_000 }), {
        maxRetries: 0,
        concurrency: 2,
        requestsPerMinute: 60,
        roundTokenBudget: 0,
        retryDelayMs: 5,
        gate: new RedisRequestGate(connection, `${prefix}:in-flight`, {
          cap: 1,
          leaseMs: 100,
          pollMs: 2,
        }),
        log: new RecordingLog(),
      }),
      ledger: new SlowRateLedger(),
    }));
    const outcomes = await Promise.all(
      processes.flatMap(({ client, ledger }) => [0, 1].map(() => askStatement(client, ledger))),
    );
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(fake.requests).toHaveLength(4);
    expect(peak).toBe(1);
    await Promise.all(connections.map((c) => c.quit()));
  });
});
