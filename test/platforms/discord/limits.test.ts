import { afterEach, describe, expect, it } from 'vitest';
import { newRoundId } from '../../../src/app/runtime.js';
import { DeliberationService } from '../../../src/deliberation/service.js';
import type { DiscordService } from '../../../src/platforms/discord/bot.js';
import { member, startWorld, type World } from './support.js';

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
    reply: service.reply.bind(service),
    removeReply: service.removeReply.bind(service),
    react: service.react.bind(service),
    openRounds: service.openRounds.bind(service),
    pollReactions: service.pollReactions.bind(service),
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
      /^You have started 1 round this hour, the most allowed; try again in \d+ (minute|second)s?\.$/,
    );
    expect(Number(answer?.flags) & EPHEMERAL).toBe(EPHEMERAL);
    expect(
      await world.runtime.store.rounds.openInChannel(world.scope, fake.channelId),
    ).toHaveLength(1);
  });
});
