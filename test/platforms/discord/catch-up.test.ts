import { afterEach, describe, expect, it } from 'vitest';
import {
  ana,
  ben,
  cai,
  contentOf,
  idOf,
  member,
  moderator,
  opinions,
  ratings,
  settle,
  snowflake,
  startRound,
  startWorld,
  until,
  type World,
} from './support.js';

const dee = member('dee');

/** Closes the round and waits for its statement, its three poll reactions and the polling phase. */
async function closeToPoll(world: World, roundId: string, threadId: string): Promise<string> {
  const { fake } = world;
  await fake.answered(fake.command('close', {}, moderator));
  const puts = await fake.waitForRequest(
    'PUT',
    new RegExp(`^/channels/${threadId}/messages/\\d+/reactions/`),
    3,
  );
  await until(
    async () =>
      (await world.runtime.store.rounds.require(world.scope, roundId)).phase === 'polling' || null,
  );
  return puts[0]?.path.split('/')[4] ?? '';
}

/** A round with ana's and ben's opinions, closed to its poll. */
async function pollOfTwo(world: World) {
  const { round, threadId } = await startRound(world);
  world.fake.say(threadId, ana, 'Four days, with a rota for Fridays.');
  world.fake.say(threadId, ben, 'Five days; customers expect us.');
  await settle(world);
  return { round, threadId, statementId: await closeToPoll(world, round.id, threadId) };
}

const threadReads = (world: World, threadId: string) =>
  world.fake.requested('GET', new RegExp(`^/channels/${threadId}/messages$`));

describe('Discord: catching up on what happened while the bot was offline', () => {
  let world: World;
  afterEach(async () => {
    await world.stop();
  });

  it('reads back replies, edits, deletions and reactions made while it was down, page by page', async () => {
    // Pages of two, so the thread takes several pages to read back.
    world = await startWorld({ catchUpLimits: { pageSize: 2 } });
    const { fake } = world;
    const { round, threadId } = await startRound(world);
    const anaFirst = String(fake.say(threadId, ana, 'Four days, with a rota for Fridays.').id);
    const benFirst = String(fake.say(threadId, ben, 'Five days; customers expect us.').id);
    await settle(world);

    let deeId = '';
    await world.restart(() => {
      fake.edit(anaFirst, 'Four days, with a rota for Fridays and a three-month trial.');
      fake.remove(benFirst);
      fake.say(threadId, cai, 'Try it in one team first.');
      deeId = String(fake.say(threadId, dee, 'Whatever the team decides.').id);
      fake.edit(deeId, 'Whatever the team decides, with a review after a quarter.');
      fake.say(threadId, ben, 'On second thought: a trial is fine.');
    });
    await settle(world);
    expect(
      Object.fromEntries((await opinions(world, round.id)).map((o) => [o.participantId, o.text])),
    ).toEqual({
      [ana.id]: 'Four days, with a rota for Fridays and a three-month trial.',
      [cai.id]: 'Try it in one team first.',
      [dee.id]: 'Whatever the team decides, with a review after a quarter.',
      [ben.id]: 'On second thought: a trial is fine.',
    });
    // Read from the question on, forward, two at a time: six messages, four pages.
    const reads = threadReads(world, threadId);
    expect(reads[0]?.query).toEqual({ after: threadId, limit: '2' });
    expect(reads.length).toBeGreaterThanOrEqual(3);
    expect(world.log.lines.some((l) => l.message === 'caught up on a round')).toBe(true);

    // A second restart with nothing new changes nothing and tells nobody anything.
    const posts = fake.requested('POST', new RegExp(`^/channels/${threadId}/messages$`)).length;
    await world.restart();
    await settle(world);
    expect(await opinions(world, round.id)).toHaveLength(4);
    expect(fake.requested('POST', new RegExp(`^/channels/${threadId}/messages$`))).toHaveLength(
      posts,
    );

    // The poll: two members rate live, then the bot goes down.
    const statementId = await closeToPoll(world, round.id, threadId);
    fake.react(threadId, statementId, ana, '👍');
    fake.react(threadId, statementId, ben, '👎');
    fake.react(threadId, statementId, dee, '🤷');
    await settle(world);
    expect(await ratings(world, round.id)).toEqual({
      [ana.id]: 'agree',
      [ben.id]: 'disagree',
      [dee.id]: 'unsure',
    });
    await world.restart(() => {
      fake.react(threadId, statementId, ana, '👍', true); // ana changes her mind
      fake.react(threadId, statementId, ana, '👎');
      fake.react(threadId, statementId, cai, '👍🏽'); // a new rating, with a skin tone
      fake.react(threadId, statementId, dee, '🤷', true); // withdrawn
      fake.react(threadId, statementId, ben, '👎', false, true); // a super reaction beside the normal one
    });
    await settle(world);
    expect(await ratings(world, round.id)).toEqual({
      [ana.id]: 'disagree',
      [ben.id]: 'disagree',
      [cai.id]: 'agree',
    });
    // The bot's own three reactions were read back too, and are not ratings.
    expect(
      fake.requested('GET', new RegExp(`^/channels/${threadId}/messages/${statementId}/reactions/`))
        .length,
    ).toBeGreaterThanOrEqual(3);
    expect(fake.requests.filter((r) => r.status >= 400)).toEqual([]);
    // What caught up still counts the usual way afterwards: cai's 👍🏽 removal withdraws it,
    // and ben's normal 👎 going leaves his super 👎, read back as a reaction of its own.
    fake.react(threadId, statementId, cai, '👍🏽', true);
    fake.react(threadId, statementId, ben, '👎', true);
    await settle(world);
    expect(await ratings(world, round.id)).toEqual({
      [ana.id]: 'disagree',
      [ben.id]: 'disagree',
    });
    // A restart with it still there keeps it; one after it went takes the rating back.
    await world.restart(() => fake.react(threadId, statementId, ben, '👎', true, true));
    await settle(world);
    expect(await ratings(world, round.id)).toEqual({ [ana.id]: 'disagree' });
  });

  it('lets a reaction taken back while the catch-up reads the poll stay taken back', async () => {
    world = await startWorld();
    const { fake } = world;
    const { round, threadId, statementId } = await pollOfTwo(world);
    await settle(world);
    // cai reacted while the bot was down. Discord's answer to the catch-up lists it, read
    // before cai took it back, and that removal reaches the bot while the answer is on its way.
    const reads = (r: { method: string; path: string }) =>
      r.method === 'GET' &&
      r.path.startsWith(`/channels/${threadId}/messages/${statementId}/reactions/`);
    const release = fake.holdAnswers(reads);
    const restarted = world.restart(() => fake.react(threadId, statementId, cai, '👍'));
    await until(async () => fake.requests.some(reads) || null);
    await new Promise((r) => setTimeout(r, 20));
    fake.react(threadId, statementId, cai, '👍', true);
    await new Promise((r) => setTimeout(r, 20));
    release();
    await restarted;
    await settle(world);
    expect(await ratings(world, round.id)).toEqual({});
  });

  it('keeps the time of a super reaction an older version stored under its plain emoji, so a later rating still wins', async () => {
    world = await startWorld();
    const { fake } = world;
    const { round, threadId, statementId } = await pollOfTwo(world);
    // Before super reactions were told apart, ana's super 👍 was stored as a plain 👍.
    fake.superReactions.set(statementId, new Map([['👍', new Set([ana.id])]]));
    await world.runtime.service.react({
      scope: world.scope,
      channelId: threadId,
      messageId: statementId,
      userId: ana.id,
      optionKey: 'agree',
      at: Date.now() - 60_000,
      removed: false,
      variant: '👍',
    });
    fake.react(threadId, statementId, ana, '👎'); // her latest: disagree
    await settle(world);
    expect(await ratings(world, round.id)).toEqual({ [ana.id]: 'disagree' });
    await world.restart();
    await settle(world);
    expect(await ratings(world, round.id)).toEqual({ [ana.id]: 'disagree' });
    // It is her super reaction now: taking back the 👎 leaves it, taking it back leaves none.
    fake.react(threadId, statementId, ana, '👎', true);
    await settle(world);
    expect(await ratings(world, round.id)).toEqual({ [ana.id]: 'agree' });
    fake.react(threadId, statementId, ana, '👍', true, true);
    await settle(world);
    expect(await ratings(world, round.id)).toEqual({});
  });

  it('reads back an edit to no words without a word to the member, however often it rereads', async () => {
    world = await startWorld();
    const { fake } = world;
    const { round, threadId } = await startRound(world);
    const anaReply = String(fake.say(threadId, ana, 'Four days, with a rota for Fridays.').id);
    fake.say(threadId, ben, 'Five days; customers expect us.');
    await settle(world);
    const botPosts = () => fake.requested('POST', new RegExp(`^/channels/${threadId}/messages$`));
    const before = botPosts().length;
    // Live, this edit would be answered ("no words in it"); read back, it just counts.
    await world.restart(() => fake.edit(anaReply, '👍 🎉'));
    await settle(world);
    expect((await opinions(world, round.id)).map((o) => o.participantId)).toEqual([ben.id]);
    await world.restart();
    await settle(world);
    expect(botPosts()).toHaveLength(before);
  });

  it('keeps the ratings of members past the reactor pages it read (its cap)', async () => {
    // One page of two users per emoji: most of the 👍 list goes unread at the restart.
    world = await startWorld({ catchUpLimits: { pageSize: 2, reactionPages: 1 } });
    const { fake } = world;
    const { round, threadId, statementId } = await pollOfTwo(world);
    const raters = [ana, ben, cai, dee, member('eve')];
    for (const rater of raters) fake.react(threadId, statementId, rater, '👍');
    await settle(world);
    const all = Object.fromEntries(raters.map((r) => [r.id, 'agree']));
    expect(await ratings(world, round.id)).toEqual(all);
    await world.restart();
    await settle(world);
    // Unread is not gone: every rating stands, and the reread says it stopped short.
    expect(await ratings(world, round.id)).toEqual(all);
    const report = world.log.lines.find((l) => l.message === 'caught up on a round');
    expect(report?.fields).toMatchObject({ capped: true, ratingsRemoved: 0 });
  });

  it('removes no super reaction of an emoji it did not read (its cap)', async () => {
    world = await startWorld({ catchUpLimits: { reactionEmojis: 1 } });
    const { fake } = world;
    const { round, threadId } = await startRound(world);
    fake.say(threadId, ana, 'Four days, with a rota for Fridays.');
    fake.say(threadId, ben, 'Five days; customers expect us.');
    await settle(world);
    const statementId = await closeToPoll(world, round.id, threadId);
    fake.react(threadId, statementId, ana, '👎', false, true);
    await settle(world);
    expect(await ratings(world, round.id)).toEqual({ [ana.id]: 'disagree' });
    await world.restart();
    await settle(world);
    expect(await ratings(world, round.id)).toEqual({ [ana.id]: 'disagree' });
  });

  it('stops at its page cap, logs it, and removes nothing it did not read', async () => {
    world = await startWorld({ catchUpLimits: { pageSize: 2, messagePages: 2 } });
    const { fake } = world;
    const { round, threadId } = await startRound(world);
    const eve = member('eve');
    for (const [user, text] of [
      [ana, 'One.'],
      [ben, 'Two.'],
      [cai, 'Three.'],
      [dee, 'Four.'],
    ] as const) {
      fake.say(threadId, user, text);
    }
    const fifth = String(fake.say(threadId, eve, 'Five, deleted while the bot is down.').id);
    await settle(world);
    await world.restart(() => {
      fake.remove(fifth);
      fake.say(threadId, member('fay'), 'Six, beyond the cap.');
    });
    await settle(world);
    // Two pages of two: the first four messages. The fifth's deletion and the sixth lie
    // beyond what was read, so neither is concluded: eve's opinion stays, fay's is not in.
    expect(threadReads(world, threadId)).toHaveLength(2);
    expect((await opinions(world, round.id)).map((o) => o.participantId)).toEqual([
      ana.id,
      ben.id,
      cai.id,
      dee.id,
      eve.id,
    ]);
    expect(world.log.lines.map((l) => l.message)).toContain(
      'catch-up read the most thread messages it may; later ones are left as they were',
    );
  });

  it('catches up after a fresh session, and not after a resumed one', async () => {
    world = await startWorld();
    const { fake } = world;
    const { round, threadId } = await startRound(world);
    fake.say(threadId, ana, 'Four days, with a rota for Fridays.');
    await settle(world);
    const readsBefore = threadReads(world, threadId).length;

    // Discord refuses to resume: what was said in the gap is only found by reading back.
    await fake.dropSession(() => {
      fake.say(threadId, ben, 'Five days; customers expect us.');
    });
    await settle(world);
    expect(fake.identifies).toHaveLength(2);
    expect(threadReads(world, threadId).length).toBeGreaterThan(readsBefore);
    expect((await opinions(world, round.id)).map((o) => o.participantId)).toEqual([ana.id, ben.id]);

    // A resumed session replays what it missed: no reading back.
    const readsAfter = threadReads(world, threadId).length;
    await fake.dropConnection();
    fake.say(threadId, cai, 'Try it in one team first.');
    await settle(world);
    expect(fake.resumes).toHaveLength(1);
    expect(threadReads(world, threadId)).toHaveLength(readsAfter);
    expect(await opinions(world, round.id)).toHaveLength(3);
  });

  it('leaves a buttons poll alone: its ratings are not reactions', async () => {
    world = await startWorld();
    const { fake } = world;
    const { round, threadId } = await startRound(world, 'Four days?', { hidden: true });
    fake.say(threadId, ana, 'Yes, with a rota for Fridays.');
    fake.say(threadId, ben, 'No, customers expect us five days.');
    await settle(world);
    await fake.answered(fake.command('close', {}, moderator));
    const statement = await fake.waitFor(
      () =>
        fake
          .requested('POST', new RegExp(`^/channels/${threadId}/messages$`))
          .find((r) => (r.body as { components?: unknown[] }).components?.length) ?? null,
      'statement with buttons',
    );
    const statementId = idOf(statement.response);
    await until(
      async () =>
        (await world.runtime.store.rounds.require(world.scope, round.id)).phase === 'polling' ||
        null,
    );
    const click = fake.click(statementId, 'consensus:rate:hidden:agree', ana);
    await fake.answered(click);
    expect(contentOf(world, click)).toMatch(/Your rating: agree/);
    await world.restart(() => {
      fake.react(threadId, statementId, ben, '👎');
    });
    await settle(world);
    expect(fake.requested('GET', new RegExp(`/messages/${statementId}(/reactions/.*)?$`))).toEqual(
      [],
    );
    expect(await ratings(world, round.id)).toEqual({ [ana.id]: 'agree' });
  });

  it('leaves out bots and webhooks in what it reads back: their messages and reactions', async () => {
    world = await startWorld();
    const { fake } = world;
    const otherBot = { id: snowflake(), username: 'other-bot', bot: true };
    const { round, threadId } = await startRound(world);
    fake.say(threadId, ana, 'Four days, with a rota for Fridays.');
    await settle(world);
    await world.restart(() => {
      fake.say(threadId, otherBot, 'Reminder: stand-up at ten.');
      fake.say(threadId, { id: snowflake(), username: 'Announcer' }, 'Via a webhook.', {
        webhookId: snowflake(),
      });
      fake.say(threadId, ben, 'Five days; customers expect us.');
    });
    await settle(world);
    expect(
      Object.fromEntries((await opinions(world, round.id)).map((o) => [o.participantId, o.text])),
    ).toEqual({
      [ana.id]: 'Four days, with a rota for Fridays.',
      [ben.id]: 'Five days; customers expect us.',
    });

    const statementId = await closeToPoll(world, round.id, threadId);
    fake.react(threadId, statementId, ana, '👍');
    await settle(world);
    await world.restart(() => {
      fake.react(threadId, statementId, otherBot, '👎');
      fake.react(threadId, statementId, ben, '👎');
    });
    await settle(world);
    // The other bot's 👎 was read back with ben's, and is not a rating.
    expect(
      fake.requested('GET', new RegExp(`^/channels/${threadId}/messages/${statementId}/reactions/`))
        .length,
    ).toBeGreaterThanOrEqual(3);
    expect(await ratings(world, round.id)).toEqual({ [ana.id]: 'agree', [ben.id]: 'disagree' });
  });

  it('reads mentions back as the gateway gives them, and a reply of mentions alone as none', async () => {
    world = await startWorld();
    const { fake } = world;
    const { round, threadId } = await startRound(world);
    fake.say(threadId, ben, 'Five days; customers expect us.');
    fake.say(threadId, ana, `Four days, if <@${ben.id}> runs the Friday rota.`);
    await settle(world);
    await world.restart(() => {
      fake.say(threadId, cai, `Fine by me, <@!${ana.id}>.`);
      fake.say(threadId, dee, `<@${ana.id}> <@${ben.id}>`);
    });
    await settle(world);
    // The live reply and the one read back name members alike; dee's pings are no opinion.
    expect(
      Object.fromEntries((await opinions(world, round.id)).map((o) => [o.participantId, o.text])),
    ).toEqual({
      [ben.id]: 'Five days; customers expect us.',
      [ana.id]: 'Four days, if @ben runs the Friday rota.',
      [cai.id]: 'Fine by me, @ana.',
    });
  });

  it('rereads the open rounds soon after a reply or a reaction it failed to handle, which the gateway will not send again', async () => {
    // A Redis-side error once for the first reply and once for the first reaction: the
    // gateway has delivered both and never sends them again, so only a reread finds them.
    const oom = () => new Error("OOM command not allowed when used memory > 'maxmemory'.");
    world = await startWorld({
      catchUpLimits: { afterFailureMs: 100 },
      wrap: (real) => {
        const reply = real.reply.bind(real);
        const react = real.react.bind(real);
        let replyFailed = false;
        let reactFailed = false;
        real.reply = async (event) => {
          if (replyFailed) return reply(event);
          replyFailed = true;
          throw oom();
        };
        real.react = async (event) => {
          if (reactFailed) return react(event);
          reactFailed = true;
          throw oom();
        };
        return real;
      },
    });
    const { fake } = world;
    const { round, threadId } = await startRound(world);
    fake.say(threadId, ana, 'Four days, with a rota for Fridays.');
    fake.say(threadId, ben, 'Five days; customers expect us.');
    await settle(world);
    await until(async () => (await opinions(world, round.id)).length === 2 || null, 5_000);
    expect((await opinions(world, round.id)).map((o) => [o.participantId, o.text]).sort()).toEqual(
      [
        [ana.id, 'Four days, with a rota for Fridays.'],
        [ben.id, 'Five days; customers expect us.'],
      ].sort(),
    );

    const statementId = await closeToPoll(world, round.id, threadId);
    fake.react(threadId, statementId, ana, '👍');
    fake.react(threadId, statementId, ben, '👎');
    await settle(world);
    await until(
      async () => Object.keys(await ratings(world, round.id)).length === 2 || null,
      5_000,
    );
    expect(await ratings(world, round.id)).toEqual({ [ana.id]: 'agree', [ben.id]: 'disagree' });
    expect(
      world.log.lines.filter(
        (l) => l.message === 'a Discord event could not be handled; the open rounds will be reread',
      ),
    ).toHaveLength(2);
  });

  it('reads back again later when Redis is still away at the reread', async () => {
    const oom = () => new Error("OOM command not allowed when used memory > 'maxmemory'.");
    // The first reply meets the outage, and so does the first reread after it.
    let replyFailed = false;
    let rereadFailed = false;
    world = await startWorld({
      catchUpLimits: { afterFailureMs: 100 },
      wrap: (real) => {
        const reply = real.reply.bind(real);
        const openRounds = real.openRounds.bind(real);
        real.reply = async (event) => {
          if (replyFailed) return reply(event);
          replyFailed = true;
          throw oom();
        };
        real.openRounds = async (scope, channelIds) => {
          if (!replyFailed || rereadFailed) return openRounds(scope, channelIds);
          rereadFailed = true;
          throw oom();
        };
        return real;
      },
    });
    const { fake } = world;
    const { round, threadId } = await startRound(world);
    fake.say(threadId, ana, 'Four days, with a rota for Fridays.');
    await settle(world);
    await until(async () => (await opinions(world, round.id)).length === 1 || null, 5_000);
    expect(world.log.lines.map((l) => l.message)).toEqual(
      expect.arrayContaining([
        'a Discord event could not be handled; the open rounds will be reread',
        'could not read the open rounds; they will be reread',
      ]),
    );
  });

  it('rereads an edit of an uncached message whose fetch failed, and drops one of a message deleted meanwhile', async () => {
    world = await startWorld({ catchUpLimits: { afterFailureMs: 100 } });
    const { fake } = world;
    const { round, threadId } = await startRound(world);
    const kept = String(fake.say(threadId, ana, 'Four days is too few.').id);
    const gone = String(fake.say(threadId, ben, 'Five days.').id);
    await settle(world);
    const thread = world.discord.client.channels.cache.get(threadId);
    if (!thread?.isTextBased()) throw new Error('thread not cached');
    thread.messages.cache.delete(kept);
    thread.messages.cache.delete(gone);
    const reread = 'a Discord event could not be handled; the open rounds will be reread';
    const rereads = () => (world as World).log.lines.filter((l) => l.message === reread).length;

    // Deleted before the bot could fetch it: Unknown Message, nothing to reread.
    fake.edit(gone, 'Five days, firmly.', { withoutContent: true });
    fake.messages.delete(gone);
    await settle(world);
    expect(rereads()).toBe(0);

    // Discord refuses the fetch: the edit comes in with the reread.
    const allow = fake.refuse('GET', new RegExp(`^/channels/${threadId}/messages/${kept}$`), 50001);
    fake.edit(kept, 'Four days could work with a rota.', { withoutContent: true });
    await until(async () => rereads() > 0 || null, 5_000);
    allow();
    await until(async () => {
      const texts = (await opinions(world as World, round.id)).map((o) => o.text);
      return texts.includes('Four days could work with a rota.') || null;
    }, 5_000);
  });
});
