import { afterEach, describe, expect, it } from 'vitest';
import { OUTSIDE_GUILD_TEXT } from '../../../src/platforms/discord/bot.js';
import { START_REFUSAL } from '../../../src/platforms/discord/interactions.js';
import {
  ana,
  ben,
  contentOf,
  embedsOf,
  idOf,
  MOD,
  moderator,
  opinions,
  PERMS,
  ratings,
  settle,
  snowflake,
  startRound,
  startWorld,
  threadPost,
  until,
  type World,
} from './support.js';

const EPHEMERAL = 64;

describe('Discord: slash commands', () => {
  let world: World;
  afterEach(async () => {
    await world.stop();
  });

  it('defers a command whose work takes longer than Discord’s 3 s, then edits in the answer', async () => {
    let calls = 0;
    world = await startWorld({
      wrap: (service) => ({
        ...pick(service),
        status: async (target) => {
          calls++;
          await new Promise((r) => setTimeout(r, 3_300));
          return service.status(target);
        },
      }),
    });
    const { fake } = world;
    await startRound(world);
    const started = Date.now();
    const id = fake.command('status', {}, { user: ana });
    const state = await fake.answered(id, 8_000);
    expect(calls).toBe(1);
    // "Thinking…" went out inside the window, privately; the answer came by editing it.
    const [callback] = fake.requested('POST', new RegExp(`^/interactions/${id}/[^/]+/callback$`));
    expect(callback?.body).toMatchObject({ type: 5, data: { flags: EPHEMERAL } });
    expect((callback?.at ?? Infinity) - started).toBeLessThan(3_000);
    const [edit] = fake.requested('PATCH', /^\/webhooks\/\d+\/[^/]+\/messages\/(@|%40)original$/);
    expect((edit?.at ?? 0) - started).toBeGreaterThan(3_000);
    expect(embedsOf(state.original)[0]?.title).toMatch(/^Round r/);
    expect(fake.requests.filter((r) => r.status >= 400)).toEqual([]);
  }, 15_000);

  it('replaces a public "thinking…" with a private message when the deferred work fails', async () => {
    world = await startWorld({
      deferAfterMs: 50,
      wrap: (service) => ({
        ...pick(service),
        results: async (target) => {
          await new Promise((r) => setTimeout(r, 300));
          return service.results(target);
        },
      }),
    });
    const { fake } = world;
    const id = fake.command('results', {}, { user: ana });
    const state = await fake.answered(id);
    expect(state.callbackType).toBe(5);
    expect(fake.requested('POST', /\/callback$/)[0]?.body).toMatchObject({
      type: 5,
      data: { flags: 0 },
    });
    expect(state.deleted).toBe(true);
    expect(state.followUps[0]?.content).toMatch(/no open round in this channel/);
    expect(Number(state.followUps[0]?.flags) & EPHEMERAL).toBe(EPHEMERAL);
  });

  it('answers a quick command at once, without deferring', async () => {
    world = await startWorld();
    await startRound(world);
    const id = world.fake.command('status', {}, { user: ana });
    const state = await world.fake.answered(id);
    expect(state.callbackType).toBe(4);
    expect(Number(state.original?.flags) & EPHEMERAL).toBe(EPHEMERAL);
    expect(embedsOf(state.original)[0]?.title).toMatch(/^Round r/);
  });

  it('acts once on an interaction that reaches a second process (a rolling deploy’s overlap)', async () => {
    world = await startWorld();
    const { fake } = world;
    const id = fake.command('start', { question: 'Should we move to Leeds?' }, moderator);
    await fake.answered(id);
    await settle(world);
    const open = () => world.runtime.store.rounds.openInChannel(world.scope, fake.channelId);
    expect(await open()).toHaveLength(1);
    // The new process has its own memory of what it saw: only Redis says it was taken.
    await world.restart();
    const answersBefore = fake.requests.filter((r) => r.path.includes(`/interactions/${id}/`));
    fake.redeliverInteraction(id);
    await settle(world);
    expect(await open()).toHaveLength(1);
    expect(fake.requests.filter((r) => r.path.includes(`/interactions/${id}/`))).toEqual(
      answersBefore,
    );
  });

  it('answers a command when it cannot ask Redis whether another process took it', async () => {
    world = await startWorld({
      wrap: (service) => ({
        ...pick(service),
        firstDelivery: async () => {
          throw new Error('Connection is closed.');
        },
      }),
    });
    await startRound(world);
    const state = await world.fake.answered(world.fake.command('status', {}, { user: ana }));
    expect(embedsOf(state.original)[0]?.title).toMatch(/^Round r/);
    expect(world.log.lines.map((l) => l.message)).toContain(
      'could not check whether another process took this interaction; handling it here',
    );
  });

  it('answers a round option that cannot be an id in plain words, and reads one pasted with spaces or backticks', async () => {
    world = await startWorld();
    const { round } = await startRound(world);
    const ask = async (value: string) => {
      const id = world.fake.command('status', { round: value }, { user: ana });
      return (await world.fake.answered(id)).original;
    };
    // Part of a Redis key: a round id with ':' names the round's other keys (a hash here).
    for (const bad of [`${round.id}:messages`, `${round.id}:poll:1`, 'r1 r2']) {
      const answer = await ask(bad);
      expect(answer?.content).toBe(`"${bad}" is not a round id.`);
      expect(Number(answer?.flags) & EPHEMERAL).toBe(EPHEMERAL);
    }
    expect(world.log.lines.filter((l) => l.level === 'error')).toEqual([]);
    // An id of no round, in Discord's word for the place.
    expect((await ask('rnope123'))?.content).toBe('No round "rnope123" in this server.');
    for (const pasted of [` ${round.id} `, `\`${round.id}\``]) {
      expect(embedsOf(await ask(pasted))[0]?.title).toBe(`Round ${round.id}`);
    }
  });

  it('tells a member who uses the command outside a server what to do, and does nothing', async () => {
    world = await startWorld();
    const id = world.fake.command('start', { question: 'In a DM?' }, { user: ana, dm: true });
    const state = await world.fake.answered(id);
    expect(state.original?.content).toBe(OUTSIDE_GUILD_TEXT);
    expect(Number(state.original?.flags) & EPHEMERAL).toBe(EPHEMERAL);
    expect(
      await world.runtime.store.rounds.openInChannel(world.scope, world.fake.channelId),
    ).toEqual([]);
  });

  it('answers a command from an out-of-date registration with what to run, instead of silence', async () => {
    world = await startWorld();
    const { fake } = world;
    // An older registration sent `candidates` as a string option; this bot reads an integer.
    const id = fake.command(
      'start',
      { question: 'Pizza on Fridays?', candidates: 'eight' },
      {
        user: MOD,
        permissions: PERMS.manageGuild,
      },
    );
    const state = await fake.answered(id);
    expect(Number(state.original?.flags) & EPHEMERAL).toBe(EPHEMERAL);
    expect(contentOf(world, id)).toMatch(/out-of-date registration of `\/consensus`/);
    expect(contentOf(world, id)).toContain('npm run discord:commands');
    expect(world.log.lines.map((l) => l.message)).toContain(
      'command options do not match the registration; run npm run discord:commands',
    );
    expect(await world.runtime.store.rounds.openInChannel(world.scope, fake.channelId)).toEqual([]);
    // A choice the registration offered and this bot no longer knows: not the default instead.
    const choice = fake.command(
      'start',
      { question: 'Pizza on Fridays?', welfare: 'rawlsian' },
      { user: MOD, permissions: PERMS.manageGuild },
    );
    await fake.answered(choice);
    expect(contentOf(world, choice)).toMatch(/out-of-date registration of `\/consensus`/);
    // A subcommand the registration has and this bot does not: the same, not the help.
    const gone = fake.command('vote', {}, { user: ana });
    await fake.answered(gone);
    expect(contentOf(world, gone)).toMatch(/out-of-date registration of `\/consensus`/);
    expect(await world.runtime.store.rounds.openInChannel(world.scope, fake.channelId)).toEqual([]);
  });

  it('defers a rating click whose work takes longer than Discord’s 3 s, then edits in the answer', async () => {
    world = await startWorld({
      wrap: (service) => ({
        ...pick(service),
        react: async (event) => {
          if (event.source === 'button') await new Promise((r) => setTimeout(r, 3_300));
          return service.react(event);
        },
      }),
    });
    const { fake } = world;
    const { round, threadId } = await startRound(world, 'Should we adopt a four-day week?', {
      anonymous: true,
    });
    fake.say(threadId, ana, 'Yes, a four-day week would reduce burnout.');
    fake.say(threadId, ben, 'No, our customers expect us five days a week.');
    await until(async () => (await opinions(world, round.id)).length === 2 || null);
    await fake.answered(fake.command('close', {}, moderator));
    const statement = await threadPost(world, threadId, 'Proposed statement');
    await until(
      async () =>
        (await world.runtime.store.rounds.require(world.scope, round.id)).phase === 'polling',
    );
    const started = Date.now();
    const click = fake.click(idOf(statement.response), 'consensus:rate:anonymous:agree', ana);
    const state = await fake.answered(click, 8_000);
    // "Thinking…" went out inside the window, privately, as the quick answer would have.
    const [callback] = fake.requested(
      'POST',
      new RegExp(`^/interactions/${click}/[^/]+/callback$`),
    );
    expect(callback?.body).toMatchObject({ type: 5, data: { flags: EPHEMERAL } });
    expect((callback?.at ?? Infinity) - started).toBeLessThan(3_000);
    expect(String(state.original?.content)).toBe(
      'Your anonymous rating: agree. Click another button to change it.',
    );
    expect(Number(state.original?.flags) & EPHEMERAL).toBe(EPHEMERAL);
    expect(Object.values(await ratings(world, round.id))).toEqual(['agree']);
    expect(fake.requests.filter((r) => r.status >= 400)).toEqual([]);
  }, 20_000);

  it('answers every rating button click: outside a server, and when something breaks', async () => {
    world = await startWorld({
      wrap: (service) => ({
        ...pick(service),
        react: async (event) => {
          if (event.source === 'button') throw new Error('Redis went away');
          return service.react(event);
        },
      }),
    });
    const { fake } = world;
    const { questionId } = await startRound(world);
    const inDm = fake.click(questionId, 'consensus:rate:hidden:agree', ana, { dm: true });
    expect(contentOf(world, (await fake.answered(inDm)).id)).toBe(OUTSIDE_GUILD_TEXT);
    expect(Number(fake.reply(inDm).original?.flags) & EPHEMERAL).toBe(EPHEMERAL);

    const broken = fake.click(questionId, 'consensus:rate:anonymous:agree', ana);
    await fake.answered(broken);
    expect(contentOf(world, broken)).toBe(
      'Something went wrong on my side; please try again in a moment.',
    );
    expect(Number(fake.reply(broken).original?.flags) & EPHEMERAL).toBe(EPHEMERAL);
    const logged = world.log.lines.find((l) => l.message === 'rating button failed');
    expect(logged?.level).toBe('error');
    expect(logged?.fields).toMatchObject({ err: 'Redis went away' });
  });

  it('answers a command that fails for a reason other than a rule: no endless "thinking…"', async () => {
    world = await startWorld({
      deferAfterMs: 50,
      wrap: (service) => ({
        ...pick(service),
        status: async () => {
          await new Promise((r) => setTimeout(r, 300));
          throw new Error('Redis went away');
        },
      }),
    });
    const { fake } = world;
    await startRound(world);
    const id = fake.command('status', {}, { user: ana });
    const state = await fake.answered(id, 5_000);
    // "Thinking…" went out, privately; the failure was edited into it.
    expect(state.callbackType).toBe(5);
    expect(state.original?.deferred).not.toBe(true);
    expect(contentOf(world, id)).toBe(
      'Something went wrong on my side; please try again in a moment.',
    );
    expect(Number(state.original?.flags) & EPHEMERAL).toBe(EPHEMERAL);
    const logged = world.log.lines.find((l) => l.message === 'command failed');
    expect(logged?.level).toBe('error');
    expect(logged?.fields).toMatchObject({ err: 'Redis went away', subcommand: 'status' });
  });

  it('counts a click on a statement posted a moment ago, whose link is still being written', async () => {
    world = await startWorld();
    const { fake } = world;
    const { round, threadId } = await startRound(world, 'Should we adopt a four-day week?', {
      hidden: true,
    });
    fake.say(threadId, ana, 'Yes, a four-day week would reduce burnout.');
    fake.say(threadId, ben, 'No, our customers expect us five days a week.');
    await until(async () => (await opinions(world, round.id)).length === 2 || null);
    // The statement's link to its round is written a little after Discord has it.
    const messages = world.runtime.store.messages;
    const link = messages.link.bind(messages);
    messages.link = async (scope, ref, role, slot) => {
      if (role.kind === 'statement') await new Promise((r) => setTimeout(r, 250));
      return link(scope, ref, role, slot);
    };
    await fake.answered(fake.command('close', {}, moderator));
    const statement = await fake.waitFor(
      () =>
        fake
          .requested('POST', new RegExp(`^/channels/${threadId}/messages$`))
          .find(
            (r) => r.status === 200 && (r.body as { components?: unknown[] }).components?.length,
          ) ?? null,
      'statement with buttons',
    );
    const statementId = idOf(statement.response);
    // A member clicks as soon as the buttons show.
    const click = fake.click(statementId, 'consensus:rate:hidden:agree', ana);
    expect(
      await world.runtime.store.messages.lookup(world.scope, threadId, statementId),
    ).toBeNull();
    await fake.answered(click);
    expect(contentOf(world, click)).toMatch(/Your rating: agree/);
    expect(Number(fake.reply(click).original?.flags) & EPHEMERAL).toBe(EPHEMERAL);
    expect(await ratings(world, round.id)).toEqual({ [ana.id]: 'agree' });
  });

  it('shows errors only to the member, and lets moderators, configured roles and the starter act', async () => {
    world = await startWorld({
      moderatorRoles: ['facilitators'],
      fake: { roles: [{ id: snowflake(), name: 'Facilitators' }] },
    });
    const { fake } = world;
    // With moderator roles configured, a plain member may not start a round.
    const refused = fake.command('start', { question: 'Pizza on Fridays?' }, { user: ana });
    await fake.answered(refused);
    // In Discord's words, and who may: not the service's "in this workspace".
    expect(contentOf(world, refused)).toBe(START_REFUSAL);
    expect(Number(fake.reply(refused).original?.flags) & EPHEMERAL).toBe(EPHEMERAL);

    // A member with a moderator role (by name) may.
    const role = fake.roleId('Facilitators');
    const started = fake.command(
      'start',
      { question: 'Pizza on Fridays?' },
      { user: ben, roles: [role] },
    );
    await fake.answered(started);
    expect(contentOf(world, started)).toMatch(/started/);
    const [round] = await world.runtime.store.rounds.openInChannel(world.scope, fake.channelId);
    expect(round?.createdBy).toBe(ben.id);

    // Another plain member may not close it; its starter may (and learns why it stays open).
    const denied = fake.command('close', {}, { user: ana });
    await fake.answered(denied);
    expect(contentOf(world, denied)).toMatch(/Only a moderator or the member who started/);
    const byStarter = fake.command('close', {}, { user: ben });
    await fake.answered(byStarter);
    expect(contentOf(world, byStarter)).toMatch(/0 opinions; it needs at least 2/);
    // Before there is a statement: what to do, in commands, not the state machine's phases.
    const noStatement = 'There is no statement yet: `close` the round first to write one.';
    const critique = fake.command('critique', {}, { user: ben });
    await fake.answered(critique);
    expect(contentOf(world, critique)).toBe(
      `This round is collecting opinions, so it cannot take critiques yet. ${noStatement}`,
    );
    expect(Number(fake.reply(critique).original?.flags) & EPHEMERAL).toBe(EPHEMERAL);
    const finish = fake.command('finish', {}, { user: ben });
    await fake.answered(finish);
    expect(contentOf(world, finish)).toBe(
      `This round is collecting opinions, so it cannot be finished yet. ${noStatement}`,
    );
    // Extending is a moderator's call too; the starter may.
    const extendDenied = fake.command('extend', { minutes: 30 }, { user: ana });
    await fake.answered(extendDenied);
    expect(contentOf(world, extendDenied)).toMatch(/Only a moderator or the member who started/);
    const extended = fake.command('extend', { minutes: 30 }, { user: ben });
    await fake.answered(extended);
    expect(contentOf(world, extended)).toMatch(/stays open until <t:\d+:f>/);
    const deadline = (await world.runtime.store.rounds.require(world.scope, round?.id ?? ''))
      .deadline;
    expect(deadline).toBeGreaterThan(Date.now() + 29 * 60_000);
    // Manage Messages makes a moderator too.
    const byPermission = fake.command(
      'cancel',
      {},
      { user: ana, permissions: PERMS.manageMessages },
    );
    await fake.answered(byPermission);
    expect(contentOf(world, byPermission)).toMatch(/is cancelled/);
    // A command about no open round says so, privately (status would show the cancelled one).
    const none = fake.command('close', {}, { user: ana });
    await fake.answered(none);
    expect(contentOf(world, none)).toMatch(/no open round in this channel/);
    expect(Number(fake.reply(none).original?.flags) & EPHEMERAL).toBe(EPHEMERAL);
  });

  it('refuses to start inside a thread or without the permissions it needs, saying why', async () => {
    world = await startWorld();
    const { fake } = world;
    const { round, threadId } = await startRound(world);
    const inThread = fake.command(
      'start',
      { question: 'Nested?' },
      { user: MOD, permissions: PERMS.manageGuild, channelId: threadId },
    );
    await fake.answered(inThread);
    expect(contentOf(world, inThread)).toMatch(/not inside a thread/);
    const noThreads = fake.command(
      'start',
      { question: 'Without threads?' },
      { user: MOD, permissions: PERMS.manageGuild, appPermissions: String(1024 + 2048 + 16384) },
    );
    await fake.answered(noThreads);
    expect(contentOf(world, noThreads)).toMatch(/missing these permissions.*CreatePublicThreads/);
    // Commands used inside the round's thread act on that round, named or not: the
    // round belongs to the thread's parent channel.
    const status = fake.command('status', {}, { user: ana, channelId: threadId });
    await fake.answered(status);
    expect(embedsOf(fake.reply(status).original)[0]?.title).toMatch(/^Round r/);
    const named = fake.command('status', { round: round.id }, { user: ana, channelId: threadId });
    await fake.answered(named);
    expect(embedsOf(fake.reply(named).original)[0]?.title).toBe(`Round ${round.id}`);
  });

  it('refuses a question of blanks or quote marks only, privately, and posts nothing', async () => {
    world = await startWorld();
    const { fake } = world;
    for (const question of ['""', ' “ ” ', '   ', '\u200b\u2060', '"\u200b"']) {
      const id = fake.command('start', { question }, { user: MOD, permissions: PERMS.manageGuild });
      const state = await fake.answered(id);
      expect(contentOf(world, id)).toBe(
        'The question is empty: write the question after the command.',
      );
      expect(Number(state.original?.flags) & EPHEMERAL).toBe(EPHEMERAL);
    }
    expect(await world.runtime.store.rounds.openInChannel(world.scope, fake.channelId)).toEqual([]);
    expect(fake.requested('POST', /^\/channels\/\d+\/messages$/)).toEqual([]);
  });

  it('tells a member in a channel of several open rounds how to name one, in Discord’s terms', async () => {
    world = await startWorld();
    const first = await startRound(world, 'Pizza on Fridays?');
    const second = await startRound(world, 'Tacos on Tuesdays?');
    const id = world.fake.command('close', {}, { user: MOD, permissions: PERMS.manageGuild });
    await world.fake.answered(id);
    const ids = [first.round.id, second.round.id].sort();
    const answer = contentOf(world, id);
    expect(answer).toMatch(
      /^This channel has 2 open rounds: .+\. Name one with the `round` option\.$/,
    );
    for (const roundId of ids) expect(answer).toContain(roundId);
    expect(answer).toContain('(“Tacos on Tuesdays?”)');
  });

  it('takes revise_below with or without poll_minutes, as Slack does', async () => {
    world = await startWorld();
    const alone = await startRound(world, 'Should we adopt a four-day week?', {
      revise_below: 50,
    });
    expect(alone.round.settings).toMatchObject({ reviseBelow: 50, pollMinutes: null });
    const { round } = await startRound(world, 'Should we adopt a five-day week?', {
      revise_below: 50,
      poll_minutes: 30,
    });
    expect(round.settings).toMatchObject({ reviseBelow: 50, pollMinutes: 30 });
  });

  it('runs start with typed options and choices, results in public, export as a private JSON file', async () => {
    world = await startWorld();
    const { fake } = world;
    const { round, threadId } = await startRound(world, 'Which colour for the logo?', {
      candidates: 3,
      minutes: 90,
      welfare: 'nash',
      scale: 'likert7',
      poll_minutes: 15,
      remind_minutes: 5,
      hidden: false,
      min_turnout: 3,
      revise_below: 60,
    });
    expect(round.settings).toEqual({
      candidates: 3,
      minutes: 90,
      welfare: 'nash',
      scale: 'likert7',
      pollMinutes: 15,
      remindMinutes: 5,
      anonymous: false,
      hidden: false,
      minTurnout: 3,
      reviseBelow: 60,
    });
    expect(round.deadline).not.toBeNull();
    fake.say(threadId, ana, 'Blue, it is calm and readable.');
    fake.say(threadId, ben, 'Green, it matches our products.');
    await settle(world);
    expect(await opinions(world, round.id)).toHaveLength(2);
    const close = fake.command('close', {}, { user: MOD, permissions: PERMS.manageGuild });
    await fake.answered(close);
    const statementReactions = await fake.waitForRequest(
      'PUT',
      new RegExp(`^/channels/${threadId}/messages/\\d+/reactions/`),
      7,
    );
    expect(statementReactions.map((r) => decodeURIComponent(r.path.split('/')[6] ?? ''))).toEqual([
      '1️⃣',
      '2️⃣',
      '3️⃣',
      '4️⃣',
      '5️⃣',
      '6️⃣',
      '7️⃣',
    ]);
    const statementId = statementReactions[0]?.path.split('/')[4] ?? '';
    fake.react(threadId, statementId, ana, '6️⃣');
    fake.react(threadId, statementId, ben, '2️⃣');
    await settle(world);
    await until(
      async () =>
        (await world.runtime.service.status({ scope: world.scope, channelId: fake.channelId }))
          .ratings === 2 || null,
    );

    const results = fake.command('results', {}, { user: ana });
    const shown = await fake.answered(results);
    expect(Number(shown.original?.flags) & EPHEMERAL).toBe(0);
    const field = embedsOf(shown.original)[0]?.fields?.[0];
    expect(field?.value).toContain('6️⃣ 6/7 **1**');
    expect(field?.value).toContain('2️⃣ 2/7 **1**');

    const exported = fake.command('export', {}, { user: ana });
    const file = await fake.answered(exported);
    expect(Number(file.original?.flags) & EPHEMERAL).toBe(EPHEMERAL);
    const files = file.original?.files as { name: string; text: string }[];
    expect(files[0]?.name).toBe(`round-${round.id}.json`);
    const data = JSON.parse(files[0]?.text ?? '{}');
    expect(data.round.id).toBe(round.id);
    expect(data.opinions).toHaveLength(2);
    expect(data.versions[0].ratings).toHaveLength(2);

    const help = fake.command('help', {}, { user: ana });
    const helpText = String((await fake.answered(help)).original?.content);
    expect(helpText).toMatch(/\/consensus start/);
    // Buttons polls take no reactions: help must not send their members to the emoji.
    expect(helpText).toMatch(/in `anonymous` and `hidden` rounds, click a button under it instead/);
  });
});

/** Every method of the service, bound, so a test can replace one. */
function pick<T extends object>(service: T): T {
  const bound = {} as Record<string, unknown>;
  for (const key of [
    'start',
    'close',
    'critique',
    'finish',
    'cancel',
    'status',
    'results',
    'export',
    'exportWorkspace',
    'admitCommand',
    'firstDelivery',
    'reply',
    'removeReply',
    'react',
    'openRounds',
    'pollReactions',
  ]) {
    const method = (service as Record<string, unknown>)[key];
    if (typeof method === 'function') bound[key] = method.bind(service);
  }
  return bound as T;
}
