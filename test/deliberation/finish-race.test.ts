import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/store.js';
import {
  CHANNEL,
  type Harness,
  MODERATOR,
  postOpinions,
  SCOPE,
  startHarness,
  startRound,
} from '../support/harness.js';

/**
 * A rating is checked against the round (is its poll open?) and then written. A finish
 * that lands between the two used to let the rating in after the close had recorded the
 * poll's ratings: the results counted it, the workspace's ratings matrix (what the learned
 * model learns from) did not. The write now checks the round itself, in Redis.
 */
describe('a rating racing the finish of its poll', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.stop();
  });

  /** Runs `meanwhile` once, after the service's check and before the store's write. */
  function between(
    polls: Store['polls'],
    method: 'addReaction' | 'choose',
    meanwhile: () => Promise<unknown>,
  ) {
    const original = polls[method].bind(polls) as (...args: unknown[]) => Promise<boolean>;
    let done = false;
    polls[method] = (async (...args: unknown[]) => {
      if (!done) {
        done = true;
        await meanwhile();
      }
      return original(...args);
    }) as never;
  }

  for (const anonymous of [false, true]) {
    it(`is refused as a closed poll, not counted by one side only (${anonymous ? 'buttons' : 'reactions'})`, async () => {
      const { service, store } = h.runtime;
      const { round, thread } = await startRound(h, 'Should our team adopt a four-day week?', {
        anonymous,
      });
      await postOpinions(h, thread.messageId);
      const target = { scope: SCOPE, channelId: CHANNEL, roundId: round.id };
      await service.close(target, MODERATOR);
      const statement = await h.platform.waitFor('statement', round.id);
      const rate = (userId: string, at: number) =>
        service.react({
          scope: SCOPE,
          channelId: CHANNEL,
          messageId: statement.ref.messageId,
          userId,
          optionKey: 'agree',
          at,
          removed: false,
          source: anonymous ? 'button' : 'reaction',
        });
      await rate('ana', 10);
      between(store.polls, anonymous ? 'choose' : 'addReaction', () =>
        service.finish(target, MODERATOR),
      );

      await expect(rate('ben', 11)).rejects.toMatchObject({
        code: 'poll_closed',
        message: expect.stringMatching(anonymous ? /your click was not/ : /your reaction was not/),
      });
      const results = await service.results(await store.rounds.require(SCOPE, round.id));
      expect(results.versions[0]?.results.ratingCount).toBe(1);
      const poll = await store.polls.poll(SCOPE, round.id, 1);
      expect((await store.polls.ratings(SCOPE, poll!)).map((r) => r.approval)).toEqual([1]);
      // Anonymous ratings stay out of the matrix; a named one is in it once.
      expect(await store.ratingsMatrix.count(SCOPE)).toBe(anonymous ? 0 : 1);
    });
  }
});
