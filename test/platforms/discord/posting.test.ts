import { afterEach, describe, expect, it } from 'vitest';
import {
  ana,
  ben,
  idOf,
  moderator,
  settle,
  startRound,
  startWorld,
  threadPost,
  type World,
} from './support.js';

describe('Discord: posting a round when a step of it fails', () => {
  let world: World | undefined;
  afterEach(async () => {
    await world?.stop();
  });

  it('takes the question down when its thread cannot be opened, so the retry leaves one question', async () => {
    world = await startWorld();
    const { fake } = world;
    // Opening the thread is refused once (a permission fixed a moment later).
    const allow = fake.refuse('POST', /^\/channels\/\d+\/messages\/\d+\/threads$/, 50013);
    const started = startRound(world);
    const refused = await fake.waitFor(
      () => fake.requested('POST', /\/threads$/).find((r) => r.status === 403) ?? null,
      'a refused thread',
    );
    allow();
    const { questionId } = await started;
    const firstQuestion = refused.path.split('/')[4] ?? '';
    expect(firstQuestion).not.toBe(questionId);
    // The first one is gone from the channel; members see one question, with its thread.
    expect(fake.requested('DELETE', new RegExp(`/messages/${firstQuestion}$`))).toHaveLength(1);
    const questions = fake
      .requested('POST', new RegExp(`^/channels/${fake.channelId}/messages$`))
      .filter((r) => r.status === 200 && JSON.stringify(r.body).includes('four-day week'));
    expect(questions).toHaveLength(2);
    expect(fake.messages.has(firstQuestion)).toBe(false);
    expect(fake.messages.has(questionId)).toBe(true);
  }, 30_000);

  it('goes on quietly when a moderator deleted the progress message: later edits are skipped', async () => {
    world = await startWorld();
    const { fake } = world;
    const { round, threadId } = await startRound(world);
    fake.say(threadId, ana, 'Four days, with a rota for Fridays.');
    fake.say(threadId, ben, 'Five days; customers expect us.');
    await settle(world);
    // The progress message goes the moment it is posted.
    let removed = '';
    const watcher = setInterval(() => {
      const progress = fake
        .requested('POST', new RegExp(`^/channels/${threadId}/messages$`))
        .find((r) => r.status === 200 && /Working on it/.test(JSON.stringify(r.body)));
      if (progress && !removed) {
        removed = idOf(progress.response);
        fake.remove(removed);
      }
    }, 5);
    try {
      await fake.answered(fake.command('close', {}, moderator));
      await threadPost(world, threadId, 'Proposed statement');
    } finally {
      clearInterval(watcher);
    }
    expect(removed).not.toBe('');
    await settle(world);
    expect((await world.runtime.store.rounds.require(world.scope, round.id)).phase).toBe('polling');
    const lines = world.log.lines;
    expect(lines.some((l) => l.message === 'progress message is gone; not editing it')).toBe(true);
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
  }, 30_000);
});
