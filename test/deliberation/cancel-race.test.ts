import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CHANNEL,
  type Harness,
  MODERATOR,
  postOpinions,
  SCOPE,
  startHarness,
  startRound,
  until,
} from '../support/harness.js';

/**
 * The select stage writes the poll, then moves the round to polling, then queues the
 * statement. A cancel can land between any two of those steps; whichever it is, the
 * channel must tell one story: the progress message ends "Stopped: the round was
 * cancelled.", and no statement whose poll refuses every rating appears after the cancel.
 */
describe('a cancel racing the select stage', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.stop();
  });

  const progress = () => h.output.filter((line) => /^ {3}(⏳|✅|⚠️) /.test(line));
  const idle = async () => {
    const c = await h.runtime.queues
      .publishQueue(SCOPE)
      .getJobCounts('waiting', 'active', 'delayed');
    return (c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) === 0;
  };

  async function closed() {
    const { round, thread } = await startRound(h);
    await postOpinions(h, thread.messageId);
    return { round, target: { scope: SCOPE, channelId: CHANNEL, roundId: round.id } };
  }

  it('after the poll is written, before the round moves to polling', async () => {
    const { service, store } = h.runtime;
    const { round, target } = await closed();
    const original = store.polls.savePoll.bind(store.polls);
    store.polls.savePoll = async (...args) => {
      await original(...args);
      await service.cancel(target, MODERATOR);
    };
    await service.close(target, MODERATOR);
    await until(async () => h.platform.posted.some((m) => m.kind === 'notice'));
    await new Promise((r) => setTimeout(r, 300));
    await until(idle);
    expect((await store.rounds.require(SCOPE, round.id)).phase).toBe('cancelled');
    expect(h.platform.posted.filter((m) => m.kind === 'statement')).toEqual([]);
    expect(progress().at(-1)).toContain('Stopped: the round was cancelled.');
  });

  it('after the round moved to polling, before its statement is queued', async () => {
    const { service, store, queues } = h.runtime;
    const { round, target } = await closed();
    const original = queues.enqueuePublish.bind(queues);
    queues.enqueuePublish = async (job, once) => {
      if (job.kind === 'statement') await service.cancel(target, MODERATOR);
      return original(job, once);
    };
    await service.close(target, MODERATOR);
    await until(async () => h.platform.posted.some((m) => m.kind === 'notice'));
    await new Promise((r) => setTimeout(r, 300));
    await until(idle);
    expect((await store.rounds.require(SCOPE, round.id)).phase).toBe('cancelled');
    expect(h.platform.posted.filter((m) => m.kind === 'statement')).toEqual([]);
    expect(progress().at(-1)).toContain('Stopped: the round was cancelled.');
  });

  it('after the progress said the statement is below, before the statement is queued', async () => {
    const { service, store, queues } = h.runtime;
    const { round, target } = await closed();
    const original = queues.enqueuePublish.bind(queues);
    queues.enqueuePublish = async (job, once) => {
      if (job.kind === 'statement') {
        // The "Done" edit, queued beside the statement, and every earlier edit are shown
        // before the cancel lands: no edit is left to run after it.
        await until(async () => progress().some((line) => line.includes('the statement is below')));
        await until(idle);
        await service.cancel(target, MODERATOR);
      }
      return original(job, once);
    };
    await service.close(target, MODERATOR);
    await until(async () => h.platform.posted.some((m) => m.kind === 'notice'));
    await until(idle);
    expect((await store.rounds.require(SCOPE, round.id)).phase).toBe('cancelled');
    expect(h.platform.posted.filter((m) => m.kind === 'statement')).toEqual([]);
    expect(progress().at(-1)).toContain('Stopped: the round was cancelled.');
    // Its results hold no statement: the one chosen was never put to the vote.
    expect((await service.results(target)).versions).toEqual([]);
  });
});
