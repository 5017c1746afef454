import { afterEach, describe, expect, it } from 'vitest';
import {
  channelPosts,
  contentOf,
  embedsOf,
  MOD,
  moderator,
  publishIdle,
  roundWithOpinions,
  startWorld,
  until,
  type World,
} from './support.js';

/**
 * A server admin takes Send Messages in Threads away from the bot mid-round: every post
 * into the round's thread gets 403, code 50013 Missing Permissions. The statement's job
 * used to spend its attempts and stop there, the round "polling" on a statement nobody
 * saw, and nobody was told.
 */
describe('a round whose thread the bot may no longer post in', () => {
  let world: World | undefined;
  afterEach(async () => {
    await world?.stop();
  });

  it('says in the channel, once, that the statement could not be posted', async () => {
    world = await startWorld();
    const { fake } = world;
    const { round, threadId } = await roundWithOpinions(world);
    fake.refuse('POST', new RegExp(`^/channels/${threadId}/messages$`), 50013);

    await fake.answered(fake.command('close', {}, moderator));
    const idle = () => publishIdle(world as World);
    const notices = () =>
      channelPosts(world as World).filter((text) => text.includes('could not be posted'));
    await until(() => notices().length > 0, 20_000);
    await until(idle, 20_000);
    expect(notices()).toEqual([
      `The statement of round \`${round.id}\` (“Should our team adopt a four-day week?”) could not be posted after several tries: the bot may have lost a permission it needs in this channel or its thread. Once a server admin has restored it, a moderator can post it with \`/consensus close\`.`,
    ]);
  }, 40_000);

  it('posts the statement with close once the permission is back, and the poll opens', async () => {
    world = await startWorld();
    const { fake, runtime, scope } = world;
    const { round, threadId } = await roundWithOpinions(world);
    const restore = fake.refuse('POST', new RegExp(`^/channels/${threadId}/messages$`), 50013);
    await fake.answered(fake.command('close', {}, moderator));
    await until(
      () => channelPosts(world as World).some((t) => t.includes('could not be posted')),
      20_000,
    );
    await until(() => publishIdle(world as World), 20_000);
    expect((await runtime.store.rounds.require(scope, round.id)).deadline).toBeNull();

    // Asked meanwhile, the bot says the poll has no statement to rate, and what posts it.
    const hint =
      'its statement could not be posted: once the bot may post there again, run `close` to post it';
    const status = fake.command('status', {}, moderator);
    await fake.answered(status);
    expect(JSON.stringify(fake.interactions.get(status)?.original)).toContain(hint);

    restore();
    const again = fake.command('close', {}, moderator);
    await fake.answered(again);
    expect(contentOf(world, again)).toBe(
      `The statement of round \`${round.id}\` never reached its thread: posting it again now. If it still cannot be posted, the channel is told again.`,
    );
    const posted = () =>
      fake
        .requested('POST', new RegExp(`^/channels/${threadId}/messages$`))
        .filter((r) => r.status === 200 && embedsOf(r.body)[0]?.title?.includes('Proposed'));
    await until(() => posted().length > 0, 20_000);
    // Posted once, and the poll opens on it.
    await until(() => publishIdle(world as World), 20_000);
    expect(posted()).toHaveLength(1);
    expect(await runtime.store.messages.slot(scope, round.id, 'statement:1')).not.toBeNull();
    const after = fake.command('status', {}, moderator);
    await fake.answered(after);
    expect(JSON.stringify(fake.interactions.get(after)?.original)).not.toContain(hint);
    // A close once it is posted is refused as for any polling round.
    const late = fake.command('close', {}, moderator);
    await fake.answered(late);
    expect(contentOf(world, late)).toMatch(/polling members on its statement/);
  }, 60_000);

  it('tells the member who started the round by direct message when the channel refuses that too', async () => {
    world = await startWorld();
    const { fake } = world;
    const { round, threadId } = await roundWithOpinions(world);
    // View Channel taken away: the thread and the channel both answer 50001 Missing Access.
    fake.refuse('POST', new RegExp(`^/channels/${threadId}/messages$`), 50001);
    fake.refuse('POST', new RegExp(`^/channels/${round.channelId}/messages$`), 50001);

    await fake.answered(fake.command('close', {}, moderator));
    await until(() => fake.directMessagesTo(MOD.id).length > 0, 20_000);
    await until(() => publishIdle(world as World), 20_000);
    expect(fake.directMessagesTo(MOD.id)).toEqual([
      `The statement of round \`${round.id}\` (“Should our team adopt a four-day week?”) could not be posted after several tries: the bot may have lost a permission it needs in this channel or its thread. Once a server admin has restored it, a moderator can post it with \`/consensus close\`.`,
    ]);
  }, 40_000);
});
