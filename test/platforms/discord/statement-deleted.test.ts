import { afterEach, describe, expect, it } from 'vitest';
import {
  ana,
  contentOf,
  moderator,
  settle,
  startWorld,
  toPoll,
  until,
  type World,
} from './support.js';

/**
 * A moderator deletes the bot's statement while its poll is open. Nobody can rate it any
 * more; the round used to sit polling on nothing, with no word to anyone.
 */
describe('Discord: the statement of an open poll is deleted', () => {
  let world: World | undefined;
  afterEach(async () => {
    await world?.stop();
  });

  it('tells the thread once what a moderator can do, and finish counts the ratings given', async () => {
    world = await startWorld();
    const { fake, runtime, scope } = world;
    const { round, threadId, statementId } = await toPoll(world);
    fake.react(threadId, statementId, ana, '👍');
    await settle(world);
    const notices = () =>
      fake
        .requested('POST', new RegExp(`^/channels/${threadId}/messages$`))
        .map((r) => String((r.body as { content?: string }).content ?? ''))
        .filter((text) => text.includes('was deleted, so it can no longer be rated'));
    fake.remove(statementId);
    await until(() => notices().length > 0);
    await settle(world);
    expect(notices()).toHaveLength(1);
    expect(notices()[0]).toContain(
      `The statement of round \`${round.id}\` was deleted, so it can no longer be rated. The ratings given so far are kept: \`/consensus finish\` posts the results on them`,
    );
    expect((await runtime.store.rounds.require(scope, round.id)).phase).toBe('polling');
    const finish = fake.command('finish', {}, moderator);
    await fake.answered(finish);
    await until(
      async () => (await runtime.store.rounds.require(scope, round.id)).phase === 'closed',
    );
    expect(contentOf(world, finish)).not.toMatch(/no open round|cannot/i);
  }, 30_000);
});
