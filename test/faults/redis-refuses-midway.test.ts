import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { connectRedis } from '../../src/app/redis.js';
import { CHANNEL, MODERATOR, OPINIONS, SCOPE, until } from '../support/harness.js';
import { AofRedis, offlineRuntime } from './support.js';

/**
 * A real Redis answers one kind of command with an error while the connection stays up
 * (as it does with OOM under maxmemory, READONLY after a failover, or NOPERM). Here an ACL
 * takes EVALSHA away: BullMQ's scripts are refused, the store's (sent as EVAL) are not,
 * so `finish` closes the round and then fails to queue what follows. The retry, once
 * Redis accepts them again, must post the results (`test/deliberation/follow-up.test.ts`
 * covers each step of the follow-up).
 */
describe('Redis refusing commands between a phase change and its follow-up', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });

  it('a finish refused midway is finished by the retry, results and ratings included', async () => {
    const server = new AofRedis();
    await server.start();
    cleanups.push(() => server.stop());
    const redis: Redis = await connectRedis(server.socketPath, 1_000);
    cleanups.push(async () => redis.disconnect());
    const admin: Redis = await connectRedis(server.socketPath, 1_000);
    cleanups.push(async () => admin.disconnect());
    const { runtime, platform } = offlineRuntime(redis, { env: { JOB_BACKOFF_MS: '50' } });
    cleanups.push(() => runtime.close());
    const { service, store } = runtime;

    const round = await service.start({
      scope: SCOPE,
      channelId: CHANNEL,
      actor: MODERATOR,
      question: 'Should our team adopt a four-day week?',
    });
    const question = await platform.waitFor('question', round.id, 10_000);
    let at = 1;
    for (const [userId, text] of Object.entries(OPINIONS)) {
      await service.reply({
        scope: SCOPE,
        channelId: CHANNEL,
        threadRootId: question.ref.messageId,
        messageId: `o-${userId}`,
        userId,
        text,
        at: at++,
      });
    }
    const target = { scope: SCOPE, channelId: CHANNEL, roundId: round.id };
    await service.close(target, MODERATOR);
    const statement = await platform.waitFor('statement', round.id, 10_000);
    await service.react({
      scope: SCOPE,
      channelId: CHANNEL,
      messageId: statement.ref.messageId,
      userId: 'ana',
      optionKey: 'agree',
      at: at++,
      removed: false,
    });

    await admin.call('ACL', 'SETUSER', 'default', '-evalsha');
    cleanups.push(() => admin.call('ACL', 'SETUSER', 'default', '+evalsha'));
    await expect(service.finish(target, MODERATOR)).rejects.toThrow(/NOPERM/);
    expect(await store.rounds.require(SCOPE, round.id)).toMatchObject({
      phase: 'closed',
      followUpPending: true,
    });

    await admin.call('ACL', 'SETUSER', 'default', '+evalsha');
    const results = await service.finish(target, MODERATOR);
    expect(results.versions[0]?.results.ratingCount).toBe(1);
    await platform.waitFor('results', round.id, 10_000);
    expect(await store.ratingsMatrix.count(SCOPE)).toBe(1);
    await until(
      async () => (await store.rounds.require(SCOPE, round.id)).followUpPending === false,
    );
  }, 30_000);
});
