import { afterEach, describe, expect, it } from 'vitest';
import type { RecordedRequest } from '../../fakes/discord.js';
import {
  ana,
  ben,
  cai,
  embedsOf,
  idOf,
  moderator,
  opinions,
  settle,
  startRound,
  startWorld,
  until,
  type World,
} from './support.js';

const VERSIONS = 12;

/**
 * Several critique rounds are allowed; the results embed of a round revised eleven times
 * holds more than Discord's 6,000 characters an embed, which the fake refuses (400) as
 * Discord does.
 */
describe('Discord: the results of a round revised many times', () => {
  let world: World;
  afterEach(async () => {
    await world?.stop();
  });

  it('posts the results, with the latest versions that fit, and the chart', async () => {
    world = await startWorld();
    const { fake, runtime, scope } = world;
    const { round, threadId } = await startRound(world);
    const long = (text: string) => `${text} `.repeat(4).trim();
    fake.say(threadId, ana, long('Yes, a four-day week would reduce burnout and help us focus.'));
    fake.say(threadId, ben, long('No, our customers expect us five days a week, always.'));
    fake.say(
      threadId,
      cai,
      long('Only with a rota that keeps Friday support covered, as a trial.'),
    );
    await until(async () => (await opinions(world, round.id)).length === 3 || null);

    const inThread = new RegExp(`^/channels/${threadId}/messages$`);
    const posted = (matches: (r: RecordedRequest) => boolean, what: string) =>
      fake.waitFor(() => fake.requested('POST', inThread).find(matches) ?? null, what);
    const statement = (version: number) =>
      posted(
        (r) => embedsOf(r.body)[0]?.title === `🗳️ Proposed statement (version ${version})`,
        `statement v${version}`,
      );
    const rate = async (version: number) => {
      const id = idOf((await statement(version)).response);
      await fake.waitForRequest('PUT', new RegExp(`/messages/${id}/reactions/`), 3);
      fake.react(threadId, id, ana, '👍');
      fake.react(threadId, id, ben, '👎');
      fake.react(threadId, id, cai, '🤷');
      await settle(world);
    };

    await fake.answered(fake.command('close', {}, moderator));
    await rate(1);
    for (let v = 1; v < VERSIONS; v++) {
      await fake.answered(fake.command('critique', {}, moderator));
      await until(async () => runtime.store.messages.slot(scope, round.id, `critique:${v}`));
      fake.say(threadId, ben, `Critique ${v}: it says nothing about who covers Friday support.`);
      await until(
        async () =>
          (await runtime.store.contributions.list(scope, round.id, 'critique', v)).length === 1 ||
          null,
      );
      await fake.answered(fake.command('close', {}, moderator));
      await rate(v + 1);
    }

    await fake.answered(fake.command('finish', {}, moderator));
    const results = await fake.waitFor(
      () =>
        fake
          .requested('POST', inThread)
          .find((r) => embedsOf(r.body)[0]?.title === '📊 Results' && r.status < 300) ?? null,
      'results',
    );
    const embed = embedsOf(results.body)[0];
    const names = (embed?.fields ?? []).map((f) => f.name);
    expect(names.at(-1)).toBe(`Version ${VERSIONS}`);
    expect(names.length).toBeLessThan(VERSIONS);
    expect(embed?.description).toContain(
      `Showing the latest ${names.length} of ${VERSIONS} versions`,
    );
    expect(results.files.map((f) => f.type)).toEqual(['image/png']);
    expect(fake.requests.filter((r) => r.status >= 400)).toEqual([]);
  });
});
