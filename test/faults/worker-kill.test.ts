import { afterEach, describe, expect, it } from 'vitest';
import { scopeKey } from '../../src/domain/scope.js';
import { jobId } from '../../src/pipeline/payloads.js';
import { SCOPE, until } from '../support/harness.js';
import { drained, kill } from './support.js';
import { workerScene } from './worker-scene.js';

describe('a worker killed with SIGKILL in the middle of generation', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });

  it('has its job picked up again after the stall interval, and the round posts one statement', async () => {
    // The model server answers no statement prompt until released: the first worker dies
    // mid-call.
    const { fake, bot, platform, hold, startWorker, closedRound } = await workerScene(cleanups, {
      jobAttempts: 2,
    });
    const first = await startWorker();
    const round = await closedRound(3);

    // The first worker is inside generation, its requests in flight: kill it there.
    await until(async () => fake.chatBodies('consensus_statement').length >= 1);
    expect(await kill(first, 'SIGKILL')).toBe('SIGKILL');
    const generateId = jobId('generate', scopeKey(SCOPE), round.id, 'v1', 'a1');
    const job = await bot.queues.generate.getJob(generateId);
    expect(await job?.getState()).toBe('active');
    hold.holding = false;
    const sentBeforeKill = fake.chatBodies('consensus_statement').length;

    await startWorker();
    await platform.waitFor('statement', round.id, 20_000);

    // Drained: nothing left that could post again.
    await drained(bot.queues);
    const statements = platform.posted.filter((m) => m.kind === 'statement');
    expect(statements).toHaveLength(1);
    expect(platform.posted.filter((m) => m.kind === 'notice')).toEqual([]);
    const done = await bot.store.rounds.require(SCOPE, round.id);
    // The same run finished it (attempt 1): no failure, no moderator retry.
    expect(done).toMatchObject({ phase: 'polling', version: 1, attempt: 1, failureReason: null });
    // BullMQ moved it back once because its lock expired, not because it failed.
    const finished = await bot.queues.generate.getJob(generateId);
    expect(await finished?.getState()).toBe('completed');
    expect(finished?.stalledCounter).toBe(1);
    expect(finished?.attemptsMade).toBe(1);
    // The second worker wrote all three samples again (the dead one's calls never returned).
    expect(fake.chatBodies('consensus_statement').length).toBe(sentBeforeKill + 3);
  }, 45_000);
});
