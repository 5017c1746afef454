import { afterEach, describe, expect, it } from 'vitest';
import {
  embedsOf,
  moderator,
  roundWithOpinions,
  startWorld,
  until,
  type World,
} from './support.js';

/**
 * Attach Files is taken away in the channel mid-round: Discord refuses any message with a
 * file (403, code 50013). The results carry their chart as a file, so they used to fail
 * their every attempt and never appear, for want of a picture.
 */
describe('results in a channel where the bot may no longer attach files', () => {
  let world: World | undefined;
  afterEach(async () => {
    await world?.stop();
  });

  it('are posted once, without the chart', async () => {
    world = await startWorld();
    const { fake, runtime } = world;
    const { round, threadId } = await roundWithOpinions(world);
    await fake.answered(fake.command('close', {}, moderator));
    await until(async () => {
      const r = await runtime.store.rounds.require(world!.scope, round.id);
      return (
        r.phase === 'polling' &&
        (await runtime.store.messages.slot(world!.scope, round.id, 'statement:1')) !== null
      );
    }, 15_000);
    const inThread = new RegExp(`^/channels/${threadId}/messages$`);
    fake.refuse('POST', inThread, 50013, { withFiles: true });

    await fake.answered(fake.command('finish', {}, moderator));
    const results = () =>
      fake
        .requested('POST', inThread)
        .filter((r) => r.status === 200 && embedsOf(r.body)[0]?.title === '📊 Results');
    await until(() => results().length > 0, 15_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(results()).toHaveLength(1);
    expect(results()[0]?.files).toEqual([]);
    expect(embedsOf(results()[0]?.body)[0]?.image).toBeUndefined();
  }, 30_000);
});
