import { afterEach, describe, expect, it } from 'vitest';
import { newRoundId } from '../../../src/app/runtime.js';
import { DeliberationService } from '../../../src/deliberation/service.js';
import { DEFAULT_COMMAND_LIMITS } from '../../../src/domain/limits.js';
import type { DiscordService } from '../../../src/platforms/discord/bot.js';
import type { FakeUser } from '../../fakes/discord.js';
import { clockInsideWindows } from '../../support/clock.js';
import { member, startRound, startWorld, type World } from './support.js';

const EPHEMERAL = 64;

/** The real service's methods, bound, so one of them can be replaced. */
function bound(service: DiscordService): DiscordService {
  return {
    start: service.start.bind(service),
    close: service.close.bind(service),
    critique: service.critique.bind(service),
    finish: service.finish.bind(service),
    cancel: service.cancel.bind(service),
    extend: service.extend.bind(service),
    status: service.status.bind(service),
    results: service.results.bind(service),
    export: service.export.bind(service),
    exportWorkspace: service.exportWorkspace.bind(service),
    admitCommand: service.admitCommand.bind(service),
    firstDelivery: service.firstDelivery.bind(service),
    reply: service.reply.bind(service),
    removeReply: service.removeReply.bind(service),
    react: service.react.bind(service),
    openRounds: service.openRounds.bind(service),
    pollReactions: service.pollReactions.bind(service),
    threadDeleted: service.threadDeleted.bind(service),
    channelGone: service.channelGone.bind(service),
    botRemoved: service.botRemoved.bind(service),
    botBack: service.botBack.bind(service),
    statementDeleted: service.statementDeleted.bind(service),
  };
}

describe('Discord: limits on starting rounds', () => {
  let world: World;
  afterEach(async () => {
    await world.stop();
  });

  it('shows a rate-limit refusal only to the member who asked', async () => {
    // One start per member per hour, on the world's own store and queues.
    let limited: DeliberationService | null = null;
    const service = () => {
      limited ??= new DeliberationService({
        store: world.runtime.store,
        queues: world.runtime.queues,
        log: world.log,
        now: Date.now,
        newId: newRoundId,
        newSeed: () => 7,
        limits: {
          ...DEFAULT_COMMAND_LIMITS,
          startsPerMemberPerHour: 1,
          startsPerWorkspacePerHour: 0,
          openRoundsPerChannel: 0,
        },
      });
      return limited;
    };
    world = await startWorld({
      wrap: (real) => ({ ...bound(real), start: (command) => service().start(command) }),
    });
    const { fake } = world;
    const ana = member('ana');
    const first = fake.command('start', { question: 'Pizza on Fridays?' }, { user: ana });
    await fake.answered(first);
    const second = fake.command('start', { question: 'Tacos on Fridays?' }, { user: ana });
    const state = await fake.answered(second);
    const answer = state.original ?? state.followUps[0];
    expect(String(answer?.content)).toMatch(
      /^You have started 1 round in the past hour, the most allowed; try again in \d+ (minute|second)s?\.$/,
    );
    expect(Number(answer?.flags) & EPHEMERAL).toBe(EPHEMERAL);
    expect(
      await world.runtime.store.rounds.openInChannel(world.scope, fake.channelId),
    ).toHaveLength(1);
  });
});

describe('Discord: limits on commands', () => {
  let world: World;
  afterEach(async () => {
    await world.stop();
  });

  /** Runs a subcommand and returns what the member saw and whether only they saw it. */
  async function run(sub: string, user: FakeUser, options: Record<string, boolean> = {}) {
    const id = world.fake.command(sub, options, { user });
    await world.fake.answered(id);
    const state = world.fake.reply(id);
    const answer = state.followUps[0] ?? state.original;
    return {
      content: String(answer?.content),
      ephemeral: (Number(answer?.flags) & EPHEMERAL) === EPHEMERAL,
      files: (answer?.files as unknown[] | undefined) ?? [],
    };
  }

  it('refuses a member past LIMIT_COMMANDS_PER_MEMBER_PER_MINUTE only to them, even for public results', async () => {
    world = await startWorld({
      env: { LIMIT_COMMANDS_PER_MEMBER_PER_MINUTE: '2' },
      now: clockInsideWindows(),
    });
    await startRound(world);
    const ana = member('ana');
    expect((await run('results', ana)).ephemeral).toBe(false);
    expect((await run('results', ana)).ephemeral).toBe(false);
    const refused = await run('results', ana);
    expect(refused.ephemeral).toBe(true);
    expect(refused.content).toMatch(
      /^You have run 2 commands in the past minute, the most allowed; try again in \d+ (second|minute)s?\.$/,
    );
    expect((await run('status', member('ben'))).content).not.toMatch(/most allowed/);
  });

  it('refuses a server past LIMIT_COMMANDS_PER_WORKSPACE_PER_MINUTE', async () => {
    world = await startWorld({
      env: { LIMIT_COMMANDS_PER_WORKSPACE_PER_MINUTE: '2' },
      now: clockInsideWindows(),
    });
    await run('status', member('ana'));
    await run('status', member('ben'));
    const refused = await run('status', member('cai'));
    expect(refused.ephemeral).toBe(true);
    expect(refused.content).toMatch(
      /^This server has run 2 commands in the past minute, the most allowed; try again in \d+ (second|minute)s?\.$/,
    );
  });

  it('refuses exports past LIMIT_EXPORTS_PER_MEMBER_PER_HOUR and LIMIT_EXPORTS_PER_WORKSPACE_PER_HOUR', async () => {
    world = await startWorld({
      env: { LIMIT_EXPORTS_PER_MEMBER_PER_HOUR: '1', LIMIT_EXPORTS_PER_WORKSPACE_PER_HOUR: '2' },
      now: clockInsideWindows(),
    });
    await startRound(world);
    const ana = member('ana');
    expect((await run('export', ana)).files).toHaveLength(5);
    const again = await run('export', ana);
    expect(again).toMatchObject({ ephemeral: true, files: [] });
    expect(again.content).toMatch(
      /^You have asked for 1 export in the past hour, the most allowed; try again in \d+ minutes?\.$/,
    );
    expect((await run('export', member('ben'))).files).toHaveLength(5);
    const third = await run('export', member('cai'));
    expect(third.files).toEqual([]);
    expect(third.content).toMatch(
      /^This server has asked for 2 exports in the past hour, the most allowed; try again in \d+ minutes?\.$/,
    );
  });
});
