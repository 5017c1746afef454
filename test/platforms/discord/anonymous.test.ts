import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  embedsOf,
  idOf,
  MOD,
  member,
  opinions,
  PERMS,
  settle,
  startRound,
  startWorld,
  threadPost,
  until,
  type World,
} from './support.js';

const MEMBERS = { ana: member('ana'), ben: member('ben'), cai: member('cai') };
const OPINIONS: Record<keyof typeof MEMBERS, string> = {
  ana: 'Yes, a four-day week would reduce burnout and help us focus on what matters.',
  ben: 'No. Our customers expect us five days a week and support would suffer.',
  cai: 'Only if we keep Friday support coverage with a rota, and try it for three months first.',
};

describe('Discord: an anonymous round', () => {
  let world: World;
  beforeEach(async () => {
    world = await startWorld();
  });
  afterEach(async () => {
    await world.stop();
  });

  it('rates with buttons answered privately, and names nobody in the results or export', async () => {
    const { fake } = world;
    const { round, threadId } = await startRound(world, 'Should we adopt a four-day week?', {
      anonymous: true,
    });
    expect(round.settings.anonymous).toBe(true);
    for (const [name, user] of Object.entries(MEMBERS)) {
      fake.say(threadId, user, OPINIONS[name as keyof typeof MEMBERS]);
    }
    await until(async () => (await opinions(world, round.id)).length === 3 || null);
    const close = fake.command('close', {}, { user: MOD, permissions: PERMS.manageGuild });
    await fake.answered(close);
    const inThread = new RegExp(`^/channels/${threadId}/messages$`);
    const [statement] = await fake.waitFor(() => {
      const posts = fake
        .requested('POST', inThread)
        .filter((r) => embedsOf(r.body)[0]?.title?.includes('Proposed statement'));
      return posts.length > 0 ? posts : null;
    }, 'statement');
    const body = statement?.body as {
      components?: { components: { custom_id: string }[] }[];
    };
    expect(body.components?.flatMap((row) => row.components.map((b) => b.custom_id))).toEqual([
      'consensus:rate:anonymous:agree',
      'consensus:rate:anonymous:unsure',
      'consensus:rate:anonymous:disagree',
    ]);
    const statementId = idOf(statement?.response);
    await until(
      async () =>
        (await world.runtime.store.rounds.require(world.scope, round.id)).phase === 'polling',
    );
    await settle(world);
    // No poll reactions, and the statement names no member.
    expect(fake.requested('PUT', /\/reactions\//)).toEqual([]);
    for (const user of Object.values(MEMBERS)) {
      expect(JSON.stringify(statement?.body)).not.toContain(user.id);
    }

    const clicks = [
      fake.click(statementId, 'consensus:rate:anonymous:agree', MEMBERS.ana),
      fake.click(statementId, 'consensus:rate:anonymous:agree', MEMBERS.ben),
    ];
    for (const id of clicks) await fake.answered(id);
    const change = fake.click(statementId, 'consensus:rate:anonymous:disagree', MEMBERS.ben);
    const answer = await fake.answered(change);
    expect(Number(answer.original?.flags) & 64).toBe(64); // only ben sees it
    expect(String(answer.original?.content)).toContain('Your anonymous rating: disagree');
    // A reaction is not a rating in an anonymous round.
    fake.react(threadId, statementId, MEMBERS.cai, '👍');
    await settle(world);
    const poll = await world.runtime.store.polls.poll(world.scope, round.id, 1);
    const ratings = await world.runtime.store.polls.ratings(world.scope, poll!);
    expect(ratings.map((r) => r.optionKey).sort()).toEqual(['agree', 'disagree']);
    for (const r of ratings) expect(r.participantId).toMatch(/^anon-[0-9a-f]{16}$/);

    const finish = fake.command('finish', {}, { user: MOD, permissions: PERMS.manageGuild });
    await fake.answered(finish);
    const [results] = await fake.waitFor(() => {
      const posts = fake
        .requested('POST', inThread)
        .filter((r) => embedsOf(r.body)[0]?.title === '📊 Results');
      return posts.length > 0 ? posts : null;
    }, 'results');
    const shown = JSON.stringify(results?.body);
    expect(shown).toContain('Least served (rated): 1 member at 0%');
    for (const user of [...Object.values(MEMBERS), MOD]) expect(shown).not.toContain(user.id);
    expect(shown).not.toContain('anon-');

    const exported = JSON.stringify(
      await world.runtime.service.export({
        scope: world.scope,
        channelId: fake.channelId,
        roundId: round.id,
      }),
    );
    for (const user of [...Object.values(MEMBERS), MOD]) expect(exported).not.toContain(user.id);
    expect(exported).not.toContain('anon-');
  });
});

describe('Discord: an anonymous round across a resumed session', () => {
  let world: World;
  beforeEach(async () => {
    world = await startWorld();
  });
  afterEach(async () => {
    await world.stop();
  });

  it('handles a replayed click once: its rating is not applied again, nor answered twice', async () => {
    const { fake } = world;
    const { round, threadId } = await startRound(world, 'Should we adopt a four-day week?', {
      anonymous: true,
    });
    for (const [name, user] of Object.entries(MEMBERS)) {
      fake.say(threadId, user, OPINIONS[name as keyof typeof MEMBERS]);
    }
    await until(async () => (await opinions(world, round.id)).length === 3 || null);
    await fake.answered(fake.command('close', {}, { user: MOD, permissions: PERMS.manageGuild }));
    const statementId = idOf(
      (
        await fake.waitFor(() => {
          const posts = fake
            .requested('POST', new RegExp(`^/channels/${threadId}/messages$`))
            .filter((r) => embedsOf(r.body)[0]?.title?.includes('Proposed statement'));
          return posts.length > 0 ? posts : null;
        }, 'statement')
      )[0]?.response,
    );
    await until(
      async () =>
        (await world.runtime.store.rounds.require(world.scope, round.id)).phase === 'polling',
    );
    await fake.answered(fake.click(statementId, 'consensus:rate:anonymous:agree', MEMBERS.ben));
    await fake.answered(fake.click(statementId, 'consensus:rate:anonymous:disagree', MEMBERS.ben));
    await settle(world);
    const callbacks = () => fake.requested('POST', /^\/interactions\/\d+\/[^/]+\/callback$/).length;
    const answeredBefore = callbacks();

    // The resumed session sends every event again, both clicks included.
    await fake.dropConnection({ replayDelivered: fake.sequence });
    await settle(world);
    expect(callbacks()).toBe(answeredBefore);
    const poll = await world.runtime.store.polls.poll(world.scope, round.id, 1);
    const ratings = await world.runtime.store.polls.ratings(world.scope, poll!);
    expect(ratings.map((r) => r.optionKey)).toEqual(['disagree']);
  });
});

describe('Discord: a hidden round', () => {
  let world: World;
  beforeEach(async () => {
    world = await startWorld();
  });
  afterEach(async () => {
    await world.stop();
  });

  it('rates with buttons under members’ own ids, and never calls the rating anonymous', async () => {
    const { fake } = world;
    const { round, threadId } = await startRound(world, 'Should we adopt a four-day week?', {
      hidden: true,
    });
    expect(round.settings).toMatchObject({ hidden: true, anonymous: false });
    fake.say(threadId, MEMBERS.ana, OPINIONS.ana);
    fake.say(threadId, MEMBERS.ben, OPINIONS.ben);
    await until(async () => (await opinions(world, round.id)).length === 2 || null);
    await fake.answered(fake.command('close', {}, { user: MOD, permissions: PERMS.manageGuild }));
    const statement = await threadPost(world, threadId, 'Proposed statement');
    const body = statement.body as { components?: { components: { custom_id: string }[] }[] };
    expect(body.components?.flatMap((row) => row.components.map((b) => b.custom_id))).toEqual([
      'consensus:rate:hidden:agree',
      'consensus:rate:hidden:unsure',
      'consensus:rate:hidden:disagree',
    ]);
    const rateIt = embedsOf(statement.body)[0]?.fields?.find((f) => f.name === 'Rate it')?.value;
    expect(rateIt).toContain(
      'the tally stays hidden until the round is finished; the results then show it, and name the members who rated lowest',
    );
    expect(rateIt).not.toMatch(/anonymous/i);
    const statementId = idOf(statement.response);
    await until(
      async () =>
        (await world.runtime.store.rounds.require(world.scope, round.id)).phase === 'polling',
    );
    await settle(world);
    // The bot adds no reactions (they would show the tally), and a member's is no rating.
    expect(fake.requested('PUT', /\/reactions\//)).toEqual([]);
    fake.react(threadId, statementId, MEMBERS.cai, '👍');

    const click = fake.click(statementId, 'consensus:rate:hidden:disagree', MEMBERS.ana);
    const answer = await fake.answered(click);
    expect(Number(answer.original?.flags) & 64).toBe(64);
    const text = String(answer.original?.content);
    expect(text).toBe(
      'Your rating: disagree. The tally stays hidden until the round is finished; the results then show it, and name the members who rated lowest. Click another button to change it.',
    );
    await settle(world);
    const poll = await world.runtime.store.polls.poll(world.scope, round.id, 1);
    const ratings = await world.runtime.store.polls.ratings(world.scope, poll!);
    expect(ratings.map((r) => [r.participantId, r.optionKey])).toEqual([
      [MEMBERS.ana.id, 'disagree'],
    ]);

    // After the finish a click counts for nothing, and the member is told so as a click.
    await fake.answered(fake.command('finish', {}, { user: MOD, permissions: PERMS.manageGuild }));
    const late = await fake.answered(
      fake.click(statementId, 'consensus:rate:hidden:agree', MEMBERS.ben),
    );
    expect(Number(late.original?.flags) & 64).toBe(64);
    expect(String(late.original?.content)).toBe('This poll is closed; your click was not counted.');
    const after = await world.runtime.store.polls.ratings(world.scope, poll!);
    expect(after.map((r) => [r.participantId, r.optionKey])).toEqual([
      [MEMBERS.ana.id, 'disagree'],
    ]);
  });
});
