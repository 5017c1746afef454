import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { connectRedis } from '../../src/app/redis.js';
import { CHANNEL, MODERATOR, OPINIONS, SCOPE, until } from '../support/harness.js';
import { AofRedis, offlineRuntime } from './support.js';

describe('Redis restarted mid-round, with AOF on', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });

  it('loses no opinion or rating recorded before a crash, and the round completes', async () => {
    const server = new AofRedis();
    await server.start();
    cleanups.push(() => server.stop());
    // The app's own connection: it reconnects after the server comes back.
    const redis: Redis = await connectRedis(server.socketPath);
    cleanups.push(async () => redis.disconnect());
    const { runtime, platform } = offlineRuntime(redis, {
      // A crash can land between Redis handing a job to the worker (persisted) and the
      // worker reading the reply (lost): the job then sits "active" under a lock nobody
      // renews until the stall interval hands it out again. Short here, 30 s by default.
      env: { JOB_BACKOFF_MS: '50', WORKER_STALL_INTERVAL_MS: '1000' },
    });
    cleanups.push(() => runtime.close());
    const { service, store } = runtime;
    const target = { scope: SCOPE, channelId: CHANNEL };

    const round = await service.start({ ...target, actor: MODERATOR, question: 'Four-day week?' });
    const thread = await until(
      async () => (await store.rounds.require(SCOPE, round.id)).questionRef,
    );
    const members = Object.keys(OPINIONS);
    const reply = (userId: string, at: number) =>
      service.reply({
        ...target,
        threadRootId: thread.messageId,
        messageId: `m-${userId}`,
        userId,
        text: OPINIONS[userId] ?? '',
        at,
      });
    for (const [i, userId] of members.slice(0, 3).entries()) {
      expect((await reply(userId, i + 1)).status).toBe('recorded');
    }

    // 1. A crash while collecting opinions.
    await server.restart();
    expect((await store.contributions.list(SCOPE, round.id, 'opinion', 0)).length).toBe(3);
    expect((await reply(members[3] ?? '', 4)).status).toBe('recorded');

    // 2. A crash right after close, while the pipeline runs.
    await service.close(target, MODERATOR);
    await server.restart();
    const statement = await platform.waitFor('statement', round.id, 15_000);
    const poll = await until(() => store.polls.poll(SCOPE, round.id, 1));
    expect(Object.keys(poll.predicted).sort()).toEqual([...members].sort());

    // 3. A crash while polling.
    const votes = ['agree', 'disagree', 'unsure'];
    for (const [i, optionKey] of votes.entries()) {
      const outcome = await service.react({
        ...target,
        messageId: statement.ref.messageId,
        userId: members[i] ?? '',
        optionKey,
        at: 100 + i,
        removed: false,
      });
      expect(outcome.status).toBe('recorded');
    }
    await server.restart();
    expect((await store.polls.ratings(SCOPE, poll)).length).toBe(3);
    await service.react({
      ...target,
      messageId: statement.ref.messageId,
      userId: members[3] ?? '',
      optionKey: 'agree',
      at: 200,
      removed: false,
    });

    const results = await service.finish(target, MODERATOR);
    expect(results.participants).toBe(4);
    expect(results.versions[0]?.results.ratingCount).toBe(4);
    await platform.waitFor('results', round.id);
    expect(server.starts).toBe(4);
    // Every message once: the restarts made no job run twice to the platform.
    expect(platform.posted.map((m) => m.kind).sort()).toEqual([
      'progress',
      'question',
      'results',
      'statement',
    ]);
  });
});
