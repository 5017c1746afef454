import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExtractiveGenerator } from '../../src/models/offline/extractive-generator.js';
import type { GenerateInput } from '../../src/models/ports.js';
import {
  CHANNEL,
  type Harness,
  MODERATOR,
  postOpinions,
  replier,
  roundInCritique,
  SCOPE,
  startHarness,
  startRound,
  until,
} from '../support/harness.js';

/**
 * A reply is checked against the round (is its set open?) and then written. A close that
 * lands between the two used to let the reply in after the generator had read the set:
 * the member was told it counted, the statement was written without it (the study's
 * excluded member), and the next stage scored them as if it had been used. The write now
 * checks the round itself, in the same script.
 */
describe('a reply racing the close that starts the run', () => {
  let h: Harness;
  const seen: string[][] = [];
  beforeEach(async () => {
    seen.length = 0;
    const inner = new ExtractiveGenerator();
    h = await startHarness({
      generator: {
        name: inner.name,
        generate: (request: GenerateInput) => {
          seen.push(request.participants.map((p) => `${p.id}:${p.critique ?? p.opinion}`));
          return inner.generate(request);
        },
      },
    });
  });
  afterEach(async () => {
    await h.stop();
  });

  /** Runs `meanwhile` once, after the service's check and before the store's write of `messageId`. */
  function between(messageId: string, meanwhile: () => Promise<unknown>) {
    const contributions = h.runtime.store.contributions;
    const original = contributions.upsert.bind(contributions);
    contributions.upsert = async (...args) => {
      if (args[5].messageId === messageId) await meanwhile();
      return original(...args);
    };
  }

  it('an opinion is either used by the generator or refused, never counted and left out', async () => {
    const { service, store } = h.runtime;
    const { round, thread } = await startRound(h);
    const at = await postOpinions(h, thread.messageId);
    const target = { scope: SCOPE, channelId: CHANNEL, roundId: round.id };
    between('o-eve', async () => {
      await service.close(target, MODERATOR);
      await until(() => seen.length > 0);
    });

    const outcome = await replier(h, thread.messageId)('o-eve', 'eve', 'Late but mine.', at);
    await h.platform.waitFor('statement', round.id);
    const used = seen[0]?.some((p) => p.startsWith('eve:')) ?? false;
    const stored = (await store.contributions.list(SCOPE, round.id, 'opinion', 0)).some(
      (o) => o.participantId === 'eve',
    );
    expect({ status: outcome.status, stored }).toEqual(
      used ? { status: 'recorded', stored: true } : { status: 'ignored', stored: false },
    );
    // Refused, the member is told, as a reply a moment later would be.
    if (!used) expect(outcome.notice).toMatch(/replies are not counted now/);
  });

  it('an edit to nothing either empties the opinion before the generator reads it, or is refused', async () => {
    const { service, store } = h.runtime;
    const { round, thread } = await startRound(h);
    const at = await postOpinions(h, thread.messageId);
    const reply = replier(h, thread.messageId);
    await reply('o-eve', 'eve', 'Mine, for now.', at);
    const target = { scope: SCOPE, channelId: CHANNEL, roundId: round.id };
    const contributions = store.contributions;
    const original = contributions.clear.bind(contributions);
    contributions.clear = async (...args) => {
      await service.close(target, MODERATOR);
      await until(() => seen.length > 0);
      return original(...args);
    };

    const outcome = await reply('o-eve', 'eve', '', at, at + 1);
    await h.platform.waitFor('statement', round.id);
    const used = seen[0]?.some((p) => p.startsWith('eve:')) ?? false;
    const stored = (await store.contributions.list(SCOPE, round.id, 'opinion', 0)).some(
      (o) => o.participantId === 'eve',
    );
    expect({ status: outcome.status, stored }).toEqual(
      used ? { status: 'ignored', stored: true } : { status: 'removed', stored: false },
    );
    if (used) expect(outcome.notice).toMatch(/Your edit was not counted/);
  });

  it('a critique is either used by the revision or refused', async () => {
    const { service, store } = h.runtime;
    const { round, thread, target, at } = await roundInCritique(h);
    const reply = replier(h, thread.messageId);
    await reply('c-ana', 'ana', 'It forgets the customers.', at);
    between('c-ben', async () => {
      await service.close(target, MODERATOR);
      await until(() => seen.length > 1);
    });

    const outcome = await reply('c-ben', 'ben', 'It ignores support hours.', at + 1);
    await h.platform.waitFor('statement', round.id, 30_000, 2);
    const used = seen[1]?.some((p) => p === 'ben:It ignores support hours.') ?? false;
    const stored = (await store.contributions.list(SCOPE, round.id, 'critique', 1)).some(
      (o) => o.participantId === 'ben',
    );
    expect({ status: outcome.status, stored }).toEqual(
      used ? { status: 'recorded', stored: true } : { status: 'ignored', stored: false },
    );
  });
});
