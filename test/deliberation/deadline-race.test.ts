import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Round } from '../../src/domain/round.js';
import {
  CHANNEL,
  type Harness,
  MODERATOR,
  postOpinions,
  roundPolling,
  SCOPE,
  startHarness,
  startRound,
  until,
} from '../support/harness.js';

/**
 * A deadline job that is already running when a moderator extends the phase: the extend
 * is told it worked, so the deadline must not act on the time it was scheduled for, and
 * the extended deadline must still be waiting (BullMQ ignored the extend's new job, whose
 * id was the running one's).
 */
describe('an extend racing the deadline it replaces', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.stop();
  });

  /** Fires the round's delayed deadline now, with `meanwhile` run once it has read the round. */
  async function fireWith(meanwhile: () => Promise<Round>, move: 'close' | 'finish' = 'close') {
    const { service, queues } = h.runtime;
    const job = await until(async () =>
      (await queues.deadline.getJobs(['delayed'])).find((j) => j.name === 'deadline'),
    );
    const original = service[move].bind(service) as (...args: unknown[]) => Promise<unknown>;
    let extended: Round | null = null;
    let reached = false;
    service[move] = (async (...args: unknown[]) => {
      if (args[1] === null && !reached) {
        reached = true;
        extended = await meanwhile();
      }
      return original(...args);
    }) as never;
    await job.promote();
    await until(() => reached);
    await until(async () => {
      const running = await queues.deadline.getJob(job.id as string);
      return !running || !(await running.isActive());
    });
    await until(async () => {
      const c = await queues.publishQueue(SCOPE).getJobCounts('waiting', 'active', 'delayed');
      return (c.waiting ?? 0) + (c.active ?? 0) === 0;
    });
    return extended as Round | null;
  }

  const pendingDeadlines = async () =>
    (await h.runtime.queues.deadline.getJobs(['delayed'])).filter((j) => j.name === 'deadline');

  it('with enough opinions: the round stays open until the extended deadline', async () => {
    const { service, store } = h.runtime;
    const { round, thread } = await startRound(h, undefined, { minutes: 5 });
    await postOpinions(h, thread.messageId);
    const target = { scope: SCOPE, channelId: CHANNEL, roundId: round.id };
    const extended = await fireWith(() => service.extend(target, MODERATOR, 30));
    const now = await store.rounds.require(SCOPE, round.id);
    expect(now.phase).toBe('collecting');
    expect(now.deadline).toBe(extended?.deadline);
    expect((await pendingDeadlines()).map((j) => j.data.at)).toEqual([extended?.deadline]);
  });

  it('on a poll: it stays open, with no results, until the extended deadline', async () => {
    const { service, store } = h.runtime;
    const { round, target } = await roundPolling(h, { pollMinutes: 5 });
    const extended = await fireWith(() => service.extend(target, MODERATOR, 30), 'finish');
    const now = await store.rounds.require(SCOPE, round.id);
    expect(now.phase).toBe('polling');
    expect(now.deadline).toBe(extended?.deadline);
    expect((await pendingDeadlines()).map((j) => j.data.at)).toEqual([extended?.deadline]);
    expect(h.platform.posted.filter((m) => m.kind === 'results')).toEqual([]);
  });

  it('with too few opinions: the extension is kept, and the deadline says nothing', async () => {
    const { service, store } = h.runtime;
    const { round } = await startRound(h, undefined, { minutes: 5 });
    const target = { scope: SCOPE, channelId: CHANNEL, roundId: round.id };
    const extended = await fireWith(() => service.extend(target, MODERATOR, 30));
    const now = await store.rounds.require(SCOPE, round.id);
    expect(now.phase).toBe('collecting');
    expect(now.deadline).toBe(extended?.deadline);
    expect((await pendingDeadlines()).map((j) => j.data.at)).toEqual([extended?.deadline]);
    expect(h.platform.posted.filter((m) => m.kind === 'notice')).toEqual([]);
  });

  it('after the extend: a deadline job for the old time, run late, closes nothing', async () => {
    const { service, store } = h.runtime;
    const { round, thread } = await startRound(h, undefined, { minutes: 5 });
    await postOpinions(h, thread.messageId);
    const target = { scope: SCOPE, channelId: CHANNEL, roundId: round.id };
    const before = await store.rounds.require(SCOPE, round.id);
    const extended = await service.extend(target, MODERATOR, 30);
    // The job BullMQ could not replace (it was running), run now with its own old time.
    await service.onDeadline({
      scope: SCOPE,
      roundId: round.id,
      phase: 'collecting',
      version: before.version,
      at: before.deadline ?? 0,
    });
    const now = await store.rounds.require(SCOPE, round.id);
    expect(now.phase).toBe('collecting');
    expect(now.deadline).toBe(extended.deadline);
  });
});
