import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ana,
  ben,
  cai,
  MOD,
  opinions,
  PERMS,
  settle,
  startRound,
  startWorld,
  until,
  type World,
} from './support.js';

async function statementOf(world: World, threadId: string): Promise<string> {
  const reactions = await world.fake.waitForRequest(
    'PUT',
    new RegExp(`^/channels/${threadId}/messages/\\d+/reactions/`),
    3,
  );
  return reactions[0]?.path.split('/')[4] ?? '';
}

async function ratingsOf(world: World, roundId: string) {
  const poll = await world.runtime.store.polls.poll(world.scope, roundId, 1);
  if (!poll) return [];
  return world.runtime.store.polls.ratings(world.scope, poll);
}

describe('Discord: restarts and reconnects', () => {
  let world: World;
  beforeEach(async () => {
    world = await startWorld();
  });
  afterEach(async () => {
    await world.stop();
  });

  it('follows a round whose thread was archived when it restarted: Discord lists only active threads at start', async () => {
    const { fake } = world;
    const { round, threadId } = await startRound(world);
    const first = String(fake.say(threadId, ana, 'Four days, with a rota for Fridays.').id);
    await settle(world);
    // Quiet for a week (or closed by a moderator), then the bot restarts.
    fake.archiveThread(threadId);
    await settle(world);
    await world.restart();
    await settle(world); // the catch-up read the thread: what follows is live events only
    // A member posting reopens it; the message may arrive before the THREAD_UPDATE that says so.
    fake.say(threadId, ben, 'Five days; customers expect us.');
    fake.edit(first, 'Four days, with a rota for Fridays and a trial.');
    await settle(world);
    expect((await opinions(world, round.id)).map((o) => o.text)).toEqual([
      'Four days, with a rota for Fridays and a trial.',
      'Five days; customers expect us.',
    ]);
  }, 30_000);

  it('loses nothing when the bot restarts mid-round: state is in Redis, uncached messages arrive as partials', async () => {
    const { fake } = world;
    const { round, threadId } = await startRound(world);
    const before = String(fake.say(threadId, ana, 'Four days, with a rota for Fridays.').id);
    fake.say(threadId, ben, 'Five days; customers expect us.');
    await settle(world);

    await world.restart();
    expect(fake.identifies).toHaveLength(2);
    // The new process has never seen these messages; the edit arrives for an uncached one.
    fake.edit(before, 'Four days, with a rota for Fridays and a three-month trial.');
    fake.say(threadId, cai, 'Try it in one team first.');
    await settle(world);
    expect((await opinions(world, round.id)).map((o) => o.text)).toEqual([
      'Four days, with a rota for Fridays and a three-month trial.',
      'Five days; customers expect us.',
      'Try it in one team first.',
    ]);

    const close = fake.command('close', {}, { user: MOD, permissions: PERMS.manageGuild });
    await fake.answered(close);
    const statementId = await statementOf(world, threadId);
    await until(
      async () =>
        (await world.runtime.store.rounds.require(world.scope, round.id)).phase === 'polling' ||
        null,
    );
    fake.react(threadId, statementId, ana, '👍');
    await settle(world);

    await world.restart();
    // Reactions on a statement the new process has not cached still count, and removal removes.
    fake.react(threadId, statementId, ben, '👎');
    fake.react(threadId, statementId, cai, '🤷');
    fake.react(threadId, statementId, ana, '👍', true);
    await settle(world);
    const ratings = await ratingsOf(world, round.id);
    expect(ratings.map((r) => [r.participantId, r.optionKey])).toEqual(
      [
        [ben.id, 'disagree'],
        [cai.id, 'unsure'],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
    const finish = fake.command('finish', {}, { user: MOD, permissions: PERMS.manageGuild });
    expect(String((await fake.answered(finish)).original?.content)).toMatch(/finished/);
  });

  it('counts nothing twice when the gateway drops and the resumed session replays events', async () => {
    const { fake } = world;
    const { round, threadId } = await startRound(world);
    fake.say(threadId, ana, 'Four days, with a rota for Fridays.');
    fake.say(threadId, ben, 'Five days; customers expect us.');
    fake.say(threadId, cai, 'Try it in one team first.');
    await settle(world);
    const close = fake.command('close', {}, { user: MOD, permissions: PERMS.manageGuild });
    await fake.answered(close);
    const statementId = await statementOf(world, threadId);
    await until(
      async () =>
        (await world.runtime.store.rounds.require(world.scope, round.id)).phase === 'polling' ||
        null,
    );
    fake.react(threadId, statementId, ana, '👍');
    fake.react(threadId, statementId, ben, '👎');
    await settle(world);
    // From here on, replies in the thread are critiques: a replayed opinion would count again.
    const critique = fake.command('critique', {}, { user: MOD, permissions: PERMS.manageGuild });
    await fake.answered(critique);
    // The invitation goes out through the publish queue, after the interaction is answered:
    // wait for it, or it could land after the count below and look like a replayed command.
    await until(
      () =>
        fake
          .requested('POST', new RegExp(`^/channels/${threadId}/messages$`))
          .find((r) => JSON.stringify(r.body).includes('What does this statement miss?')) ?? null,
    );
    await settle(world);
    const postsBefore = fake.requests.filter((r) => r.method === 'POST').length;
    const roundsBefore = await world.runtime.store.rounds.openInChannel(
      world.scope,
      fake.channelId,
    );

    // Discord delivers at least once: the resumed session sends every event of the session
    // again (the start, close and critique commands, replies and reactions) plus one sent
    // while the connection was down.
    await fake.dropConnection({ replayDelivered: fake.sequence });
    fake.say(threadId, cai, 'It says nothing about support hours.');
    await settle(world);

    expect(fake.resumes).toHaveLength(1);
    expect(fake.identifies).toHaveLength(1);
    expect(await world.runtime.store.rounds.openInChannel(world.scope, fake.channelId)).toEqual(
      roundsBefore,
    );
    expect(await opinions(world, round.id)).toHaveLength(3);
    const critiques = await world.runtime.store.contributions.list(
      world.scope,
      round.id,
      'critique',
      1,
    );
    expect(critiques.map((c) => [c.participantId, c.text])).toEqual([
      [cai.id, 'It says nothing about support hours.'],
    ]);
    expect((await ratingsOf(world, round.id)).map((r) => r.optionKey).sort()).toEqual([
      'agree',
      'disagree',
    ]);
    // No command ran again: no second question, no second answer to an interaction.
    expect(fake.requests.filter((r) => r.method === 'POST').length).toBe(postsBefore);
    expect(fake.requests.filter((r) => r.status >= 400)).toEqual([]);
  });
});
