import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Harness, MODERATOR, roundPolling, startHarness, until } from '../support/harness.js';

/**
 * Two moderators (or two bot processes) at once: one starts a critique, the other
 * finishes the round after the critique moved it but before its invitation was queued.
 * Both moves are legal, in that order; what the channel must not show is an invitation
 * to criticise, below the results, in a round that takes no more replies.
 */
describe('a finish racing the critique before it', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.stop();
  });

  it('posts the results, and no invitation to a closed round', async () => {
    const { service, store, queues } = h.runtime;
    const { round, target } = await roundPolling(h);
    const original = queues.enqueuePublish.bind(queues);
    let finished = false;
    queues.enqueuePublish = async (job, once) => {
      if (job.kind === 'critique-invite' && !finished) {
        finished = true;
        await service.finish(target, { ...MODERATOR, userId: 'mod2' });
      }
      return original(job, once);
    };
    await service.critique(target, MODERATOR);
    await h.platform.waitFor('results', round.id);
    await until(async () => {
      const c = await queues
        .publishQueue(target.scope)
        .getJobCounts('waiting', 'active', 'delayed');
      return (c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) === 0;
    });
    expect((await store.rounds.require(target.scope, round.id)).phase).toBe('closed');
    expect(h.platform.posted.filter((m) => m.kind === 'critique-invite')).toEqual([]);
    expect(h.platform.posted.filter((m) => m.kind === 'results')).toHaveLength(1);
  });
});
