import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LATE_REACTION_NOTICE } from '../../../src/platforms/discord/bot.js';
import {
  ana,
  ben,
  cai,
  moderator,
  ratings,
  settle,
  startWorld,
  threadPost,
  toPoll,
  toStatement,
  until,
  type World,
} from './support.js';

describe('Discord: reactions as ratings', () => {
  let world: World;
  beforeEach(async () => {
    world = await startWorld();
  });
  afterEach(async () => {
    await world.stop();
  });

  it('counts 👍 and 👍🏽 as two reactions of one rating: removing one keeps "agree"', async () => {
    const { fake } = world;
    const { round, threadId, statementId } = await toPoll(world);
    fake.react(threadId, statementId, ana, '👍');
    fake.react(threadId, statementId, ana, '👍🏽');
    fake.react(threadId, statementId, ben, '👎🏿');
    await settle(world);
    expect(await ratings(world, round.id)).toEqual({ [ana.id]: 'agree', [ben.id]: 'disagree' });
    fake.react(threadId, statementId, ana, '👍', true);
    await settle(world);
    expect(await ratings(world, round.id)).toEqual({ [ana.id]: 'agree', [ben.id]: 'disagree' });
    fake.react(threadId, statementId, ana, '👍🏽', true);
    fake.react(threadId, statementId, ben, '👎🏿', true);
    await settle(world);
    expect(await ratings(world, round.id)).toEqual({});
  });

  it('counts a normal and a super 👍 as two reactions of one rating, and a moderator removing 👍 takes both', async () => {
    const { fake } = world;
    const { round, threadId, statementId } = await toPoll(world);
    fake.react(threadId, statementId, ana, '👍');
    fake.react(threadId, statementId, ana, '👍', false, true);
    fake.react(threadId, statementId, ben, '👍', false, true);
    fake.react(threadId, statementId, ben, '👍');
    await settle(world);
    expect(await ratings(world, round.id)).toEqual({ [ana.id]: 'agree', [ben.id]: 'agree' });
    // Each is taken back on its own: the other still says agree.
    fake.react(threadId, statementId, ana, '👍', true);
    fake.react(threadId, statementId, ben, '👍', true, true);
    await settle(world);
    expect(await ratings(world, round.id)).toEqual({ [ana.id]: 'agree', [ben.id]: 'agree' });
    fake.react(threadId, statementId, ana, '👍', true, true);
    await settle(world);
    expect(await ratings(world, round.id)).toEqual({ [ben.id]: 'agree' });
    // Removing the emoji removes its normal and super reactions alike.
    fake.react(threadId, statementId, cai, '👍', false, true);
    await settle(world);
    fake.removeEmojiReactions(threadId, statementId, '👍');
    await settle(world);
    expect(await ratings(world, round.id)).toEqual({});
  });

  it('keeps the later of two reactions that arrive within one millisecond', async () => {
    const { fake } = world;
    const { round, threadId, statementId } = await toPoll(world);
    // Sent back to back, the two events reach the bot in one tick. Each pair's later
    // emoji sorts first, so a tie on the time would keep the earlier one.
    fake.react(threadId, statementId, ana, '🤷');
    fake.react(threadId, statementId, ana, '👍');
    fake.react(threadId, statementId, ben, '👎');
    fake.react(threadId, statementId, ben, '👍');
    fake.react(threadId, statementId, cai, '🤷');
    fake.react(threadId, statementId, cai, '👎');
    await settle(world);
    expect(await ratings(world, round.id)).toEqual({
      [ana.id]: 'agree',
      [ben.id]: 'agree',
      [cai.id]: 'disagree',
    });
  });

  it('takes back the ratings when a moderator removes an emoji, or every reaction, and a replay does not', async () => {
    const { fake } = world;
    const { round, threadId, statementId } = await toPoll(world);
    fake.react(threadId, statementId, ana, '👍');
    fake.react(threadId, statementId, ben, '👎');
    fake.react(threadId, statementId, cai, '👍🏽');
    await settle(world);
    // Only 👍 goes: cai's 👍🏽 is another reaction on Discord, and stays.
    fake.removeEmojiReactions(threadId, statementId, '👍');
    await settle(world);
    expect(await ratings(world, round.id)).toEqual({ [ben.id]: 'disagree', [cai.id]: 'agree' });

    fake.removeAllReactions(threadId, statementId);
    const removedAt = fake.sequence;
    await settle(world);
    expect(await ratings(world, round.id)).toEqual({});
    // Rating again afterwards counts, and a resumed session replaying the removal (Discord
    // delivers at least once) does not take it back.
    fake.react(threadId, statementId, ana, '🤷');
    await settle(world);
    // Everything from the removal on comes again.
    await fake.dropConnection({ replayDelivered: fake.sequence - removedAt + 1 });
    await settle(world);
    expect(fake.resumes).toHaveLength(1);
    expect(await ratings(world, round.id)).toEqual({ [ana.id]: 'unsure' });
  });

  it('puts up the other poll reactions when Discord refuses one, and the poll opens', async () => {
    const { fake } = world;
    // 🤷 (unsure, the second option) refused: Missing Permissions for that one call.
    fake.refuse('PUT', new RegExp(`/reactions/${encodeURIComponent('🤷')}/@me$`), 50013);
    const { round, statementId } = await toStatement(world);
    // Successes only: the first and the third are put up all the same.
    await fake.waitForRequest('PUT', new RegExp(`/messages/${statementId}/reactions/.+/@me$`), 2);
    const puts = fake.requested('PUT', new RegExp(`/messages/${statementId}/reactions/.+/@me$`));
    expect(puts.map((r) => r.status >= 300)).toEqual([false, true, false]);
    await until(
      async () =>
        (await world.runtime.store.rounds.require(world.scope, round.id)).phase === 'polling' ||
        null,
    );
    expect(
      world.log.lines.filter((l) => l.message === 'could not add a poll reaction'),
    ).toHaveLength(1);
  });

  it('counts a reaction given while the bot is still adding the poll reactions', async () => {
    const { fake } = world;
    // The bot's first poll reaction waits out a 1 s rate limit; the statement is up meanwhile.
    fake.rateLimitNext('PUT', /\/reactions\/.+\/@me$/, 1);
    const { round, threadId, statementId } = await toStatement(world);
    // As soon as the statement is linked, which happens before its first reaction goes on.
    await until(() => world.runtime.store.messages.lookup(world.scope, threadId, statementId));
    fake.react(threadId, statementId, cai, '👎');
    await settle(world);
    const added = fake
      .requested('PUT', new RegExp(`/messages/${statementId}/reactions/.+/@me$`))
      .filter((r) => r.status === 204);
    expect(added.length).toBeLessThan(3);
    expect(await ratings(world, round.id)).toEqual({ [cai.id]: 'disagree' });
    await fake.waitForRequest('PUT', new RegExp(`/messages/${statementId}/reactions/.+/@me$`), 3);
  });

  it('answers the first reaction on a finished poll, once, naming nobody, and counts none', async () => {
    const { fake } = world;
    const { round, threadId, statementId } = await toPoll(world);
    fake.react(threadId, statementId, ana, '👍');
    await settle(world);
    await fake.answered(fake.command('finish', {}, moderator));
    await threadPost(world, threadId, 'Results');
    const posts = () =>
      fake
        .requested('POST', new RegExp(`^/channels/${threadId}/messages$`))
        .map((r) => r.body as { content?: string; message_reference?: { message_id?: string } });
    const before = posts().length;
    fake.react(threadId, statementId, ben, '👎');
    fake.react(threadId, statementId, cai, '👍');
    await settle(world);
    fake.react(threadId, statementId, ben, '👎', true);
    await settle(world);
    const notices = posts().slice(before);
    expect(notices).toHaveLength(1);
    expect(notices[0]?.content).toBe(LATE_REACTION_NOTICE);
    expect(notices[0]?.message_reference?.message_id).toBe(statementId);
    expect(await ratings(world, round.id)).toEqual({ [ana.id]: 'agree' });
  });

  it('takes a resumed session replaying reactions from before the finish for what they were: no "poll closed" reply', async () => {
    const { fake } = world;
    const { round, threadId, statementId } = await toPoll(world);
    const from = fake.sequence;
    fake.react(threadId, statementId, ana, '👍');
    fake.react(threadId, statementId, ben, '👎');
    // A normal and a super reaction of one emoji are two events, each replayed as itself.
    fake.react(threadId, statementId, cai, '👍');
    fake.react(threadId, statementId, cai, '👍', false, true);
    await settle(world);
    await fake.answered(fake.command('finish', {}, moderator));
    await threadPost(world, threadId, 'Results');
    await settle(world);
    const posts = () => fake.requested('POST', new RegExp(`^/channels/${threadId}/messages$`));
    const before = posts().length;
    // Discord delivers at least once: everything from the two reactions on comes again,
    // the finish included. They were counted before the poll closed; said again now, they
    // are no late reactions to answer.
    await fake.dropConnection({ replayDelivered: fake.sequence - from });
    await settle(world);
    expect(fake.resumes).toHaveLength(1);
    expect(
      posts()
        .slice(before)
        .map((r) => r.body),
    ).toEqual([]);
    expect(await ratings(world, round.id)).toEqual({
      [ana.id]: 'agree',
      [ben.id]: 'disagree',
      [cai.id]: 'agree',
    });
  });
});
