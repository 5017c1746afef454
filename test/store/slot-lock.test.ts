import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MessageRef } from '../../src/domain/round.js';
import type { Scope } from '../../src/domain/scope.js';
import { Keys } from '../../src/store/keys.js';
import type { MessageRole } from '../../src/store/messages.js';
import { createStore, type Store } from '../../src/store/store.js';
import { deletePrefix, testRedis } from '../support/redis.js';

const scope: Scope = { platform: 'slack', workspaceId: 'T1' };
const SLOT = 'progress:1';
const role: MessageRole = { roundId: 'r1', kind: 'progress', version: 1 };
const ref = (messageId: string): MessageRef => ({ channelId: 'C1', messageId, threadId: 'q' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("a slot's lock", () => {
  const env = testRedis();
  let redis: Redis;
  let store: Store;
  let lockKey: (roundId: string) => string;

  beforeAll(() => {
    redis = env.connect();
    store = createStore(redis, env.prefix);
    const keys = new Keys(env.prefix);
    lockKey = (roundId) => keys.slotLock(scope, roundId, SLOT);
  });
  afterAll(async () => {
    await deletePrefix(redis, env.prefix);
    await redis.quit();
  });

  it('is kept by a holder whose work outlasts its life, so a waiter waits for the work', async () => {
    const spans: { who: string; from: number; to: number }[] = [];
    const hold = (who: string, ms: number) =>
      store.messages.withSlotLock(
        scope,
        'r-long',
        SLOT,
        async () => {
          const from = Date.now();
          await sleep(ms);
          spans.push({ who, from, to: Date.now() });
        },
        { holdMs: 150, waitMs: 5_000, pollMs: 10 },
      );
    // The first holder's work takes four of the lock's lives (a slow platform call).
    const first = hold('first', 600);
    await sleep(30);
    await Promise.all([first, hold('second', 10)]);
    const [a, b] = spans;
    expect(spans.map((s) => s.who)).toEqual(['first', 'second']);
    expect(b?.from).toBeGreaterThanOrEqual(a?.to ?? Number.POSITIVE_INFINITY);
    // Released at the end, not left to run out.
    expect(await redis.exists(lockKey('r-long'))).toBe(0);
  });

  it('tells a holder that lost it, and then links nothing over the newer holder’s message', async () => {
    const outcome = await store.messages.withSlotLock(scope, 'r-lost', SLOT, async (lock) => {
      expect(await lock.held()).toBe(true);
      // The lock runs out under this holder (a pause past its life, a Redis failover) and
      // another job takes it, posts the slot's message and links it.
      await redis.del(lockKey('r-lost'));
      const newer = await store.messages.withSlotLock(scope, 'r-lost', SLOT, (other) =>
        other.link(ref('newer'), { ...role, roundId: 'r-lost' }),
      );
      return { newer, held: await lock.held(), stale: await lock.link(ref('stale'), role) };
    });
    expect(outcome).toEqual({ newer: true, held: false, stale: false });
    expect(await store.messages.slot(scope, 'r-lost', SLOT)).toEqual(ref('newer'));
    expect(await store.messages.lookup(scope, 'C1', 'stale')).toBeNull();
    expect(await store.messages.lookup(scope, 'C1', 'newer')).toEqual({
      ...role,
      roundId: 'r-lost',
    });
  });

  it('is released by its holder only while it is still the holder’s', async () => {
    let inside = false;
    let othersLock: Promise<void> = Promise.resolve();
    let entered = () => {};
    const otherEntered = new Promise<void>((r) => {
      entered = r;
    });
    let leave = () => {};
    const otherMayLeave = new Promise<void>((r) => {
      leave = r;
    });
    await store.messages.withSlotLock(scope, 'r-release', SLOT, async () => {
      await redis.del(lockKey('r-release'));
      othersLock = store.messages.withSlotLock(scope, 'r-release', SLOT, async () => {
        inside = true;
        entered();
        await otherMayLeave;
        inside = false;
      });
      await otherEntered;
    });
    // The first holder's release left the second's lock in place.
    expect(inside).toBe(true);
    expect(await redis.exists(lockKey('r-release'))).toBe(1);
    leave();
    await othersLock;
  });

  it('links a new message only into an empty slot, even while held', async () => {
    await store.messages.link(scope, ref('first'), { ...role, roundId: 'r-full' }, SLOT);
    const linked = await store.messages.withSlotLock(scope, 'r-full', SLOT, (lock) =>
      lock.link(ref('second'), { ...role, roundId: 'r-full' }),
    );
    expect(linked).toBe(false);
    expect(await store.messages.slot(scope, 'r-full', SLOT)).toEqual(ref('first'));
  });
});
