import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ResultsView } from '../../src/deliberation/views.js';
import { LIMITS } from '../../src/domain/limits.js';
import { renderResults } from '../../src/platforms/console/render.js';
import { resultsEmbed } from '../../src/platforms/discord/render.js';
import { resultsBlocks, resultsMessage } from '../../src/platforms/slack/blocks.js';
import {
  CHANNEL,
  type Harness,
  MODERATOR,
  OPINIONS,
  replier,
  SCOPE,
  startHarness,
  startRound,
  until,
} from '../support/harness.js';

/** Every place a results view reaches members, as text: Slack, Discord and the console. */
function rendered(view: ResultsView) {
  return {
    slack: `${resultsMessage(view).text}\n${JSON.stringify(resultsBlocks(view))}`,
    discord: JSON.stringify(resultsEmbed(view)),
    console: renderResults(view, (id) => `@${id}`),
  };
}

describe("issue 7's bad input", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.stop();
  });

  const reply = (threadRootId: string, userId: string, text: string, messageId: string) =>
    replier(h, threadRootId)(messageId, userId, text, Date.now());

  async function toPolling(ids = Object.keys(OPINIONS)) {
    const { round, thread } = await startRound(h);
    for (const id of ids) await reply(thread.messageId, id, OPINIONS[id] ?? '', `o-${id}`);
    const target = { scope: SCOPE, channelId: CHANNEL, roundId: round.id };
    await h.runtime.service.close(target, MODERATOR);
    await h.platform.waitFor('statement', round.id);
    return { round, thread, target };
  }

  it.each([
    [{ candidates: 100 }, 'The candidates setting takes at most 16.'],
    [{ pollMinutes: 0 }, 'The poll minutes setting takes at least 1.'],
    [{ minTurnout: 2.5 }, /^The min turnout setting is not valid: /],
    // A turnout no poll can reach would read "not enough ratings" for ever, unexplained.
    [
      { minTurnout: LIMITS.maxTurnout + 1 },
      `The min turnout setting takes at most ${LIMITS.maxTurnout}.`,
    ],
  ])('refuses a setting out of range in words: %j', async (settings, message) => {
    // Discord enforces its registered ranges, but a hand-written client does not.
    await expect(
      h.runtime.service.start({
        scope: SCOPE,
        channelId: 'C-SETTINGS',
        actor: MODERATOR,
        question: 'Should we?',
        settings,
      }),
    ).rejects.toMatchObject({
      code: 'invalid_input',
      // A RegExp inside toMatchObject matches any value (it has no keys to compare).
      message: typeof message === 'string' ? message : expect.stringMatching(message),
    });
  });

  it('accepts the largest min turnout', async () => {
    const round = await h.runtime.service.start({
      scope: SCOPE,
      channelId: 'C-SETTINGS',
      actor: MODERATOR,
      question: 'Should we?',
      settings: { minTurnout: LIMITS.maxTurnout },
    });
    expect(round.settings.minTurnout).toBe(LIMITS.maxTurnout);
  });

  it('extends by at most a week at the service itself, whatever a client sends', async () => {
    // Slack's parser and Discord's registered maximum check first; an old registration or
    // a hand-written client does not, and the service is the last guard.
    const { round } = await startRound(h);
    const target = { scope: SCOPE, channelId: CHANNEL, roundId: round.id };
    await expect(
      h.runtime.service.extend(target, MODERATOR, LIMITS.maxMinutes + 1),
    ).rejects.toMatchObject({
      code: 'invalid_input',
      message: `Extend by a whole number of minutes from 1 to ${LIMITS.maxMinutes}; got ${LIMITS.maxMinutes + 1}.`,
    });
    expect((await h.runtime.store.rounds.require(SCOPE, round.id)).deadline).toBeNull();
    const before = Date.now();
    const moved = await h.runtime.service.extend(target, MODERATOR, LIMITS.maxMinutes);
    expect(moved.deadline).toBeGreaterThanOrEqual(before + LIMITS.maxMinutes * 60_000);
    expect(moved.deadline).toBeLessThanOrEqual(Date.now() + LIMITS.maxMinutes * 60_000);
  });

  it('says how to start a round in words true on every platform when the channel has none', async () => {
    // `start <question>` is Slack's form only: Discord's is `start question:<text>`.
    const target = { scope: SCOPE, channelId: 'C-EMPTY', roundId: null };
    for (const act of [
      () => h.runtime.service.close(target, MODERATOR),
      () => h.runtime.service.status(target),
    ]) {
      await expect(act()).rejects.toMatchObject({
        code: 'not_found',
        message: 'There is no open round in this channel. Start one with `/consensus start`.',
      });
    }
  });

  it('refuses a critique round before there is a winner, and changes nothing', async () => {
    const { round, thread } = await startRound(h);
    await reply(thread.messageId, 'ana', OPINIONS.ana ?? '', 'o-ana');
    const target = { scope: SCOPE, channelId: CHANNEL, roundId: round.id };
    const before = await h.runtime.store.rounds.require(SCOPE, round.id);

    // Said as every platform and the console show it: what to do, not the phases' names.
    await expect(h.runtime.service.critique(target, MODERATOR)).rejects.toMatchObject({
      code: 'illegal_transition',
      message:
        'This round is collecting opinions, so it cannot take critiques yet. ' +
        'There is no statement yet: `close` the round first to write one.',
    });

    expect(await h.runtime.store.rounds.require(SCOPE, round.id)).toEqual(before);
    // A later reply is still an opinion, not a critique, and no invitation went out.
    expect(await reply(thread.messageId, 'ben', OPINIONS.ben ?? '', 'o-ben')).toMatchObject({
      status: 'recorded',
      kind: 'opinion',
    });
    expect(h.platform.posted.filter((m) => m.kind === 'critique-invite')).toEqual([]);
  });

  it('accepts a critique from a member who gave no opinion, and labels it in the results', async () => {
    const { round, thread, target } = await toPolling(['ana', 'ben', 'cai']);
    await h.runtime.service.critique(target, MODERATOR);
    await h.platform.waitFor('critique-invite', round.id);
    expect(
      await reply(thread.messageId, 'zed', 'It forgets the people who work part-time.', 'c-zed'),
    ).toMatchObject({ status: 'recorded', kind: 'critique' });
    expect(
      await reply(thread.messageId, 'ana', 'It should say how long the trial runs.', 'c-ana'),
    ).toMatchObject({ status: 'recorded', kind: 'critique' });
    await h.runtime.service.close(target, MODERATOR);
    await until(async () => {
      const r = await h.runtime.store.rounds.require(SCOPE, round.id);
      return r.version === 2 && r.phase === 'polling';
    });
    // The revision took zed's critique into account: zed's approval was predicted.
    const poll = await h.runtime.store.polls.poll(SCOPE, round.id, 2);
    expect(Object.keys(poll?.predicted ?? {}).sort()).toEqual(['ana', 'ben', 'cai', 'zed']);

    const view = await h.runtime.service.finish(target, MODERATOR);
    expect(view.critiquedWithoutOpinion).toEqual(['zed']);
    const out = rendered(view);
    expect(out.slack).toContain('Critiqued without giving an opinion: <@zed>');
    expect(out.discord).toContain('Critiqued without giving an opinion: <@zed>');
    expect(out.console).toContain('critiqued without giving an opinion: @zed');
    // ana gave an opinion too: she is not labelled.
    for (const text of Object.values(out)) expect(text).not.toMatch(/opinion: [^\n"]*ana/);
  });

  it('says so in every renderer when a round is finished with no ratings', async () => {
    const { target } = await toPolling(['ana', 'ben']);
    const view = await h.runtime.service.finish(target, MODERATOR);
    expect(view.versions.map((v) => v.results.ratingCount)).toEqual([0]);
    const out = rendered(view);
    expect(resultsMessage(view).text).toBe('Results: no ratings were given.');
    expect(out.slack).toContain('No ratings were given');
    expect(out.discord).toContain('No ratings were given');
    expect(out.console).toContain('no ratings were given');
  });
});
