import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CHANNEL,
  type Harness,
  MODERATOR,
  postOpinions,
  roundInCritique,
  roundPolling,
  SCOPE,
  startHarness,
  startRound,
  until,
} from '../support/harness.js';

/**
 * `close`, `critique` and `finish` change the round's phase first and queue its follow-up after. An
 * error between the two (Redis answering OOM to one write, say) used to leave the round
 * generating with no job, or finished with no results, and the retry was refused as a
 * move the round had already made. Here one step of the follow-up fails once, as such an
 * error would; `test/faults/redis-refuses-midway.test.ts` does it with a real Redis refusing
 * commands.
 */
describe('a close or finish that fails after moving the round', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.stop();
  });

  /** Makes `object[method]` throw once, on the first call `when` accepts. */
  function failOnce<T extends object, K extends keyof T>(
    object: T,
    method: K,
    when: (...args: never[]) => boolean = () => true,
  ): { failed: () => boolean } {
    const original = object[method] as (...args: unknown[]) => Promise<unknown>;
    let failed = false;
    object[method] = (async (...args: never[]) => {
      if (!failed && when(...args)) {
        failed = true;
        throw new Error("OOM command not allowed when used memory > 'maxmemory'.");
      }
      return original.apply(object, args);
    }) as T[K];
    return { failed: () => failed };
  }

  const rate = (messageId: string, userId: string) =>
    h.runtime.service.react({
      scope: SCOPE,
      channelId: CHANNEL,
      messageId,
      userId,
      optionKey: 'agree',
      at: 50,
      removed: false,
    });

  it('finish: the retry posts the results, and only then is the round over', async () => {
    const { service, store, queues } = h.runtime;
    const { round, statement, target } = await roundPolling(h);
    await rate(statement.ref.messageId, 'ana');
    const fault = failOnce(
      queues,
      'enqueuePublish',
      (job: { kind: string }) => job.kind === 'results',
    );

    await expect(service.finish(target, MODERATOR)).rejects.toThrow(/OOM/);
    expect(fault.failed()).toBe(true);
    expect(await store.rounds.require(SCOPE, round.id)).toMatchObject({
      phase: 'closed',
      followUpPending: true,
    });
    // Status does not say "finished" as if the results were on their way.
    expect((await service.status(target)).phaseText).toBe(
      'finished (its results are not posted yet: run `finish` again)',
    );

    const results = await service.finish(target, MODERATOR);
    expect(results.versions.map((v) => v.version)).toEqual([1]);
    await h.platform.waitFor('results', round.id, 10_000);
    expect(await store.rounds.require(SCOPE, round.id)).toMatchObject({
      phase: 'closed',
      followUpPending: false,
    });
    expect(await store.ratingsMatrix.count(SCOPE)).toBe(1);
    expect((await service.status(target)).phaseText).toBe('finished');
    // Done now: a third finish is refused as before, and posts nothing more.
    await expect(service.finish(target, MODERATOR)).rejects.toMatchObject({
      code: 'illegal_transition',
    });
    expect(h.platform.posted.filter((m) => m.kind === 'results')).toHaveLength(1);
  });

  it('start: a round whose question could not be queued is withdrawn, and the retry starts anew', async () => {
    const { service, store, queues } = h.runtime;
    failOnce(queues, 'enqueuePublish', (job: { kind: string }) => job.kind === 'question');
    const start = () =>
      service.start({
        scope: SCOPE,
        channelId: CHANNEL,
        actor: MODERATOR,
        question: 'Should our team adopt a four-day week?',
        settings: { minutes: 30 },
      });
    await expect(start()).rejects.toThrow(/OOM/);
    expect(await store.rounds.openInChannel(SCOPE, CHANNEL)).toEqual([]);

    const round = await start();
    await h.platform.waitFor('question', round.id, 10_000);
    // The channel's one round: commands that name none find it, not "which one?".
    const status = await service.status({ scope: SCOPE, channelId: CHANNEL, roundId: null });
    expect(status.roundId).toBe(round.id);
  });

  it('close: the retry queues the pipeline run the first one could not', async () => {
    const { service, store, queues } = h.runtime;
    const { round, thread } = await startRound(h);
    await postOpinions(h, thread.messageId);
    const target = { scope: SCOPE, channelId: CHANNEL, roundId: round.id };
    failOnce(queues, 'enqueueStage');

    await expect(service.close(target, MODERATOR)).rejects.toThrow(/OOM/);
    expect(await store.rounds.require(SCOPE, round.id)).toMatchObject({
      phase: 'generating',
      attempt: 1,
      followUpPending: true,
    });

    const closed = await service.close(target, MODERATOR);
    expect(closed).toMatchObject({ phase: 'generating', version: 0, attempt: 1 });
    await h.platform.waitFor('statement', round.id, 10_000);
    expect(await store.rounds.require(SCOPE, round.id)).toMatchObject({
      phase: 'polling',
      version: 1,
      attempt: 1,
      followUpPending: false,
    });
    // A close while the run is on (nothing pending) is still refused in words.
    await expect(service.close(target, MODERATOR)).rejects.toMatchObject({
      code: 'illegal_transition',
    });
  });

  it('the pipeline: a select job that opened the poll and then failed posts it on its retry', async () => {
    const { service, store, queues } = h.runtime;
    const { round, thread } = await startRound(h);
    await postOpinions(h, thread.messageId);
    const fault = failOnce(
      queues,
      'enqueuePublish',
      (job: { kind: string }) => job.kind === 'statement',
    );
    await service.close({ scope: SCOPE, channelId: CHANNEL, roundId: round.id }, MODERATOR);
    await h.platform.waitFor('statement', round.id, 10_000);
    expect(fault.failed()).toBe(true);
    expect(await store.rounds.require(SCOPE, round.id)).toMatchObject({
      phase: 'polling',
      version: 1,
    });
    expect(h.platform.posted.filter((m) => m.kind === 'statement')).toHaveLength(1);
  });

  it('close after critiques: the retry records the first poll and writes the revision', async () => {
    const { service, store } = h.runtime;
    const { round, thread, target, at } = await roundInCritique(h);
    await service.reply({
      scope: SCOPE,
      channelId: CHANNEL,
      threadRootId: thread.messageId,
      messageId: 'c-ben',
      userId: 'ben',
      text: 'It ignores Friday customer support entirely.',
      at,
    });
    const statement = await h.platform.waitFor('statement', round.id);
    await rate(statement.ref.messageId, 'ana');
    failOnce(store.ratingsMatrix, 'recordPoll');

    await expect(service.close(target, MODERATOR)).rejects.toThrow(/OOM/);
    expect(await store.rounds.require(SCOPE, round.id)).toMatchObject({
      phase: 'revising',
      followUpPending: true,
    });
    expect(await store.ratingsMatrix.count(SCOPE)).toBe(0);

    await service.close(target, MODERATOR);
    await until(() => h.platform.posted.filter((m) => m.kind === 'statement').length >= 2);
    expect(await store.rounds.require(SCOPE, round.id)).toMatchObject({
      phase: 'polling',
      version: 2,
    });
    expect(await store.ratingsMatrix.count(SCOPE)).toBe(1);
  });

  it('critique: the retry posts the invitation and sets the deadline', async () => {
    const { service, store, queues } = h.runtime;
    const { round, target } = await roundPolling(h, { minutes: 30 });
    failOnce(queues, 'enqueuePublish', (job: { kind: string }) => job.kind === 'critique-invite');

    await expect(service.critique(target, MODERATOR)).rejects.toThrow(/OOM/);
    expect(await store.rounds.require(SCOPE, round.id)).toMatchObject({
      phase: 'critiquing',
      followUpPending: true,
    });

    await service.critique(target, MODERATOR);
    await h.platform.waitFor('critique-invite', round.id, 10_000);
    const critiquing = await store.rounds.require(SCOPE, round.id);
    expect(critiquing).toMatchObject({ phase: 'critiquing', followUpPending: false });
    const deadline = await queues.deadline.getJob(`deadline-console.W1-${round.id}-critiquing-v1`);
    expect(deadline?.data).toMatchObject({ phase: 'critiquing', version: 1 });
    await expect(service.critique(target, MODERATOR)).rejects.toMatchObject({
      code: 'illegal_transition',
    });
  });

  it("a poll's deadline: BullMQ's retry of the job posts the results", async () => {
    const { store, queues } = h.runtime;
    const { round } = await roundPolling(h);
    const fault = failOnce(
      queues,
      'enqueuePublish',
      (job: { kind: string }) => job.kind === 'results',
    );

    // Due now, on the real deadline worker: its first attempt fails after closing the
    // round, and the harness's second attempt is the one that must finish the work.
    const now = Date.now();
    // The round's own deadline: a job for any other time is one an `extend` replaced.
    await store.rounds.update(SCOPE, round.id, (r) => ({ ...r, deadline: now }));
    await queues.scheduleDeadline(
      { scope: SCOPE, roundId: round.id, phase: 'polling', version: 1 },
      now,
      now,
    );
    await h.platform.waitFor('results', round.id, 10_000);
    expect(fault.failed()).toBe(true);
    expect(await store.rounds.require(SCOPE, round.id)).toMatchObject({
      phase: 'closed',
      followUpPending: false,
    });
  });
});
