import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chartSize } from '../../../src/platforms/chart/results-chart.js';
import { decodePng, pngSize } from '../../support/png.js';
import {
  ana,
  ben,
  cai,
  embedsOf,
  idOf,
  MOD,
  opinions,
  PERMS,
  settle,
  startRound,
  startWorld,
  until,
  type World,
} from './support.js';

/** Issue 7's "done when": two versions of a statement, a critique round between them. */
describe('Discord: a critique round from start to the chart', () => {
  let world: World;
  beforeEach(async () => {
    world = await startWorld();
  });
  afterEach(async () => {
    await world.stop();
  });

  it('polls version 1, takes critiques, polls the revision and reports both with a chart', async () => {
    const { fake, runtime, scope } = world;
    const { round, threadId } = await startRound(world);
    fake.say(threadId, ana, 'Yes, a four-day week would reduce burnout and help us focus.');
    fake.say(
      threadId,
      ben,
      'No. Our customers expect us five days a week and support would suffer.',
    );
    fake.say(
      threadId,
      cai,
      'Only with a rota that keeps Friday support covered, as a trial first.',
    );
    await until(async () => (await opinions(world, round.id)).length === 3 || null);

    const inThread = new RegExp(`^/channels/${threadId}/messages$`);
    const moderator = { user: MOD, permissions: PERMS.manageGuild };
    const statement = (version: number) =>
      fake.waitFor(() => {
        const post = fake
          .requested('POST', inThread)
          .find((r) => embedsOf(r.body)[0]?.title === `🗳️ Proposed statement (version ${version})`);
        return post ?? null;
      }, `statement v${version}`);

    // Version 1: close, wait for its poll, two members rate it.
    await fake.answered(fake.command('close', {}, moderator));
    const v1Id = idOf((await statement(1)).response);
    await fake.waitForRequest('PUT', new RegExp(`/messages/${v1Id}/reactions/`), 3);
    fake.react(threadId, v1Id, ana, '👍');
    fake.react(threadId, v1Id, ben, '👎');
    await settle(world);

    // The critique round: the invitation lands in the thread, the reply is a critique.
    const critique = fake.command('critique', {}, moderator);
    expect(String((await fake.answered(critique)).original?.content)).toMatch(
      /collecting critiques/,
    );
    await fake.waitFor(
      () =>
        fake
          .requested('POST', inThread)
          .find((r) =>
            String((r.body as { content?: string }).content).includes(
              'What does this statement miss?',
            ),
          ) ?? null,
      'critique invitation',
    );
    fake.say(threadId, ben, 'It says nothing about who covers customer support on Fridays.');
    await until(
      async () =>
        (await runtime.store.contributions.list(scope, round.id, 'critique', 1)).length === 1 ||
        null,
    );

    // Version 2: the revision gets its own poll; three members rate it.
    await fake.answered(fake.command('close', {}, moderator));
    const v2Id = idOf((await statement(2)).response);
    expect(v2Id).not.toBe(v1Id);
    await fake.waitForRequest('PUT', new RegExp(`/messages/${v2Id}/reactions/`), 3);
    fake.react(threadId, v2Id, ana, '👍');
    fake.react(threadId, v2Id, ben, '🤷');
    fake.react(threadId, v2Id, cai, '👍');
    await settle(world);

    await fake.answered(fake.command('finish', {}, moderator));
    const results = await fake.waitFor(
      () =>
        fake.requested('POST', inThread).find((r) => embedsOf(r.body)[0]?.title === '📊 Results') ??
        null,
      'results',
    );
    const fields = embedsOf(results.body)[0]?.fields ?? [];
    const version = (n: number) => fields.find((f) => f.name === `Version ${n}`)?.value ?? '';
    expect(fields.map((f) => f.name).filter((n) => n.startsWith('Version'))).toEqual([
      'Version 1',
      'Version 2',
    ]);
    expect(version(1)).toContain('👍 agree **1** · 🤷 unsure **0** · 👎 disagree **1**');
    expect(version(1)).toContain('mean approval 50%');
    expect(version(2)).toContain('👍 agree **2** · 🤷 unsure **1** · 👎 disagree **0**');
    expect(version(2)).toContain('3 ratings (3 members gave opinions)');
    expect(version(2)).toContain('mean approval 83%');

    // The chart is the embed's image, attached to the same message: a decodable PNG of two rows.
    const chartName = `results-${round.id}.png`;
    expect(embedsOf(results.body)[0]?.image).toEqual({ url: `attachment://${chartName}` });
    expect(results.files.map((f) => [f.name, f.type])).toEqual([[chartName, 'image/png']]);
    const png = results.files[0]?.bytes as Buffer;
    expect(pngSize(png)).toEqual(chartSize(2));
    expect(decodePng(png)).toMatchObject(chartSize(2));
    expect(fake.requests.filter((r) => r.status >= 400)).toEqual([]);
  });
});
