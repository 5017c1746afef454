import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Scope } from '../../../src/domain/scope.js';
import { stageLedger } from '../../../src/pipeline/ledger.js';
import { PipelineQueues } from '../../../src/pipeline/queues.js';
import { createStore, type Store } from '../../../src/store/store.js';
import { withClockOff } from '../../support/clock.js';
import { deletePrefix, testRedis } from '../../support/redis.js';

const SCOPE: Scope = { platform: 'console', workspaceId: 'W1' };

describe('the model ledger in Redis', () => {
  let redis: Redis;
  let prefix: string;
  let store: Store;
  beforeEach(() => {
    const env = testRedis();
    redis = env.connect();
    prefix = env.prefix;
    store = createStore(redis, prefix);
  });
  afterEach(async () => {
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  it('reserves against everything the round spent and holds, atomically', async () => {
    await store.usage.add(SCOPE, 'r1', 'generate', {
      calls: 8,
      promptTokens: 600,
      completionTokens: 100,
    });
    // 700 spent: 300 of a 1,000 budget left, to be shared by parallel callers.
    const tries = await Promise.all(
      Array.from({ length: 10 }, () => store.usage.reserve(SCOPE, 'r1', 'v1-a1-score', 100, 1_000)),
    );
    expect(tries.filter(Boolean)).toHaveLength(3);
    // Settling records the call and frees the reservation.
    await store.usage.settle(
      SCOPE,
      'r1',
      'score',
      'v1-a1-score',
      { calls: 1, promptTokens: 40, completionTokens: 10 },
      100,
    );
    // 750 spent + 200 held: 50 left.
    expect(await store.usage.reserve(SCOPE, 'r1', 'v1-a1-score', 51, 1_000)).toBe(false);
    expect(await store.usage.reserve(SCOPE, 'r1', 'v1-a1-score', 50, 1_000)).toBe(true);
    expect(await store.usage.totalTokens(SCOPE, 'r1')).toBe(750);
    // A crashed run's holdings are dropped when the stage starts again.
    expect(await store.usage.reserve(SCOPE, 'r1', 'other', 200, 1_000)).toBe(false);
    await store.usage.releaseReservations(SCOPE, 'r1', 'v1-a1-score');
    expect(await store.usage.reserve(SCOPE, 'r1', 'other', 250, 1_000)).toBe(true);
    // Reservations are not usage: byStage shows what was spent only.
    expect(await store.usage.byStage(SCOPE, 'r1')).toEqual({
      generate: { calls: 8, promptTokens: 600, completionTokens: 100 },
      score: { calls: 1, promptTokens: 40, completionTokens: 10 },
    });
  });

  it('hands out at most N request slots per window to all callers together', async () => {
    const key = `${prefix}:model-requests`;
    const start = 1_000_000;
    let clock = start;
    const timed = createStore(redis, prefix, () => clock);
    const waits = await Promise.all(
      Array.from({ length: 5 }, (_, i) => timed.usage.takeRequestSlot(key, 3, 60_000, `id${i}`)),
    );
    expect(waits.filter((w) => w === 0)).toHaveLength(3);
    expect(Math.min(...waits.filter((w) => w > 0))).toBeGreaterThan(59_000);
    // Once the oldest request leaves the window, a slot frees up.
    clock = start + 60_001;
    expect(await timed.usage.takeRequestSlot(key, 3, 60_000, 'late')).toBe(0);
  });

  it.each([
    ['the one asking second', 'ahead', 0, 120_000],
    ['the one that took the slot', 'behind', -120_000, 0],
  ] as const)(
    "counts one worker's request in the other's minute when %s runs two minutes %s",
    async (_who, _direction, firstOffMs, secondOffMs) => {
      const key = `${prefix}:bull:model-requests`;
      const job = { scope: SCOPE, roundId: 'r3', version: 1, attempt: 1 };
      await withClockOff(firstOffMs, () => stageLedger(store, job, 'generate', key).awaitSlot(1));
      // The minute's one request is taken: the other worker waits, whatever its clock says.
      const outcome = await withClockOff(secondOffMs, async () => {
        const stop = new AbortController();
        const timer = setTimeout(() => stop.abort(new Error('still waiting')), 200);
        const second = stageLedger(store, { ...job, roundId: 'r4' }, 'score', key);
        try {
          await second.awaitSlot(1, stop.signal);
          return 'slot taken';
        } catch (error) {
          return error instanceof Error ? error.message : String(error);
        } finally {
          clearTimeout(timer);
        }
      });
      expect(outcome).toBe('still waiting');
    },
  );

  it('gives a stage run its own memory of paid calls, and waits for a slot or an abort', async () => {
    const queues = new PipelineQueues(redis, {
      prefix: `${prefix}:bull`,
      attempts: 1,
      backoffMs: 1,
    });
    try {
      const job = { scope: SCOPE, roundId: 'r2', version: 1, attempt: 1 };
      const ledger = stageLedger(store, job, 'generate', `${prefix}:bull:model-requests`);
      await ledger.remember('sample-1', '{"statement":"x"}');
      expect(await ledger.recall('sample-1')).toBe('{"statement":"x"}');
      const nextAttempt = stageLedger(store, { ...job, attempt: 2 }, 'generate', 'k');
      expect(await nextAttempt.recall('sample-1')).toBeNull();

      await ledger.awaitSlot(1);
      const stop = new AbortController();
      const waiting = ledger.awaitSlot(1, stop.signal);
      setTimeout(() => stop.abort(new Error('job cancelled')), 20);
      await expect(waiting).rejects.toThrow('job cancelled');
    } finally {
      await queues.close();
    }
  });
});
