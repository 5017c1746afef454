import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { unusedCritiquesNote } from '../../src/deliberation/views.js';
import { ExtractiveGenerator } from '../../src/models/offline/extractive-generator.js';
import type { GenerateInput, GenerateResult, Generator } from '../../src/models/ports.js';
import {
  CHANNEL,
  type Harness,
  MODERATOR,
  OPINIONS,
  postOpinions,
  replier,
  SCOPE,
  startHarness,
  startRound,
} from '../support/harness.js';

describe('critique and revision', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.stop();
  });

  it('turns thread replies into critiques, revises the statement and polls the new version', async () => {
    const { service, store } = h.runtime;
    const { round, thread } = await startRound(h);
    const reply = (messageId: string, userId: string, text: string, at: number) =>
      service.reply({
        scope: SCOPE,
        channelId: CHANNEL,
        threadRootId: thread.messageId,
        messageId,
        userId,
        text,
        at,
      });
    let at = 1;
    for (const [id, text] of Object.entries(OPINIONS)) await reply(`o-${id}`, id, text, at++);
    const target = { scope: SCOPE, channelId: CHANNEL, roundId: round.id };
    await service.close(target, MODERATOR);
    const first = await h.platform.waitFor('statement', round.id);

    // Closing a critique round with no critiques is refused; the round keeps collecting them.
    await service.critique(target, MODERATOR);
    await h.platform.waitFor('critique-invite', round.id);
    await expect(service.close(target, MODERATOR)).rejects.toThrow(/No critiques yet/);

    const critique = await reply(
      'c-ben',
      'ben',
      'It ignores Friday customer support entirely.',
      at++,
    );
    expect(critique).toMatchObject({ status: 'recorded', kind: 'critique' });
    // While critiquing, a new reply is a critique of version 1, not an opinion.
    expect(
      (await store.contributions.list(SCOPE, round.id, 'critique', 1)).map((c) => c.participantId),
    ).toEqual(['ben']);

    await service.close(target, MODERATOR);
    const second = await waitForStatement(h, round.id, 2);
    expect(second.ref.messageId).not.toBe(first.ref.messageId);
    const revised = await store.rounds.require(SCOPE, round.id);
    expect(revised).toMatchObject({ phase: 'polling', version: 2 });
    const candidates = await store.polls.candidates(SCOPE, round.id, 2);
    expect(candidates?.candidates.some((c) => c.source === 'revision')).toBe(true);

    // Ratings on the first version's poll are closed now; the member is sent to the second.
    await expect(
      service.react({
        scope: SCOPE,
        channelId: CHANNEL,
        messageId: first.ref.messageId,
        userId: 'ana',
        optionKey: 'agree',
        at: 99,
        removed: false,
      }),
    ).rejects.toMatchObject({
      code: 'poll_closed',
      message:
        'Version 1 of this statement was replaced by version 2, so your reaction was not counted: rate version 2 in this thread.',
    });
    await service.react({
      scope: SCOPE,
      channelId: CHANNEL,
      messageId: second.ref.messageId,
      userId: 'ben',
      optionKey: 'agree',
      at: 100,
      removed: false,
    });

    const results = await service.finish(target, MODERATOR);
    expect(results.versions.map((v) => [v.version, v.results.ratingCount])).toEqual([
      [1, 0],
      [2, 1],
    ]);
    // Ben's critique went into version 2: none is left unused.
    expect(results.unusedCritiques).toBe(0);
  });

  it('says so when the round is finished during critiques, instead of dropping them silently', async () => {
    const { service } = h.runtime;
    const { round, thread } = await startRound(h);
    let at = await postOpinions(h, thread.messageId);
    const target = { scope: SCOPE, channelId: CHANNEL, roundId: round.id };
    await service.close(target, MODERATOR);
    await h.platform.waitFor('statement', round.id);
    await service.critique(target, MODERATOR);
    await h.platform.waitFor('critique-invite', round.id);
    const reply = replier(h, thread.messageId);
    await reply('c-ben', 'ben', 'It ignores Friday customer support entirely.', at++);
    await reply('c-cy', 'cy', 'It should say who decides the rota.', at++);
    await reply('c-ben-2', 'ben', 'And it says nothing about holidays.', at++);
    // While critiquing, the view of the round so far has nothing unused yet.
    expect((await service.results(target)).unusedCritiques).toBe(0);

    const results = await service.finish(target, MODERATOR);
    expect(results).toMatchObject({ phase: 'closed', unusedCritiques: 2 });
    expect(results.versions.map((v) => v.version)).toEqual([1]);
    const posted = await h.platform.waitFor('results', round.id);
    expect(posted.text).toContain(unusedCritiquesNote(2));
    expect(unusedCritiquesNote(2)).toMatch(
      /^2 members critiqued .*no revision used their critiques/,
    );
  });
});

/** Writes first statements, but every revision fails (say, the token budget ran out). */
class RevisionFails implements Generator {
  readonly name = 'revision-fails';
  /** Cleared to let revisions through again, as when the budget is topped up. */
  failing = true;
  private readonly inner = new ExtractiveGenerator();
  async generate(input: GenerateInput): Promise<GenerateResult> {
    if (this.failing && input.previous !== null) throw new Error('the round token budget is spent');
    return this.inner.generate(input);
  }
}

describe('a failed revision', () => {
  let h: Harness;
  afterEach(async () => {
    await h.stop();
  });

  it('leaves the last poll standing: the round can still be finished on it', async () => {
    h = await startHarness({ generator: new RevisionFails(), attempts: 1 });
    const { service } = h.runtime;
    const { round, thread } = await startRound(h);
    let at = await postOpinions(h, thread.messageId);
    const target = { scope: SCOPE, channelId: CHANNEL, roundId: round.id };
    await service.close(target, MODERATOR);
    const first = await h.platform.waitFor('statement', round.id);
    await service.react({
      scope: SCOPE,
      channelId: CHANNEL,
      messageId: first.ref.messageId,
      userId: 'ana',
      optionKey: 'agree',
      at: at++,
      removed: false,
    });
    await service.critique(target, MODERATOR);
    await replier(h, thread.messageId)('c-ben', 'ben', 'It should mention support hours.', at++);
    await service.close(target, MODERATOR);
    const notice = await h.platform.waitFor('notice', round.id);
    expect(notice.text).toMatch(/token budget is spent/);
    expect(await h.runtime.store.rounds.require(SCOPE, round.id)).toMatchObject({
      phase: 'failed',
      version: 1,
    });
    const results = await service.finish(target, MODERATOR);
    expect(results.versions.map((v) => [v.version, v.results.ratingCount])).toEqual([[1, 1]]);
    // The revision that failed never used Ben's critique, and the results say so.
    expect(results.unusedCritiques).toBe(1);
    expect((await h.runtime.store.rounds.require(SCOPE, round.id)).phase).toBe('closed');
  });

  it('is retried by `close` as the revision it was, from the critiques, not as a new first statement', async () => {
    const generator = new RevisionFails();
    h = await startHarness({ generator, attempts: 1 });
    const { service, store } = h.runtime;
    const { round, thread } = await startRound(h);
    let at = await postOpinions(h, thread.messageId);
    const target = { scope: SCOPE, channelId: CHANNEL, roundId: round.id };
    await service.close(target, MODERATOR);
    const first = await h.platform.waitFor('statement', round.id);
    await service.critique(target, MODERATOR);
    await replier(h, thread.messageId)('c-ben', 'ben', 'It should mention support hours.', at++);
    await service.close(target, MODERATOR);
    await h.platform.waitFor('notice', round.id);
    expect(await store.rounds.require(SCOPE, round.id)).toMatchObject({
      phase: 'failed',
      version: 1,
    });

    // The budget is back: the moderator's retry must revise v1 into v2 with Ben's critique.
    // Restarting at v1 would drop the critiques and overwrite the poll members already rated.
    generator.failing = false;
    expect(await service.close(target, MODERATOR)).toMatchObject({ phase: 'revising' });
    const second = await waitForStatement(h, round.id, 2);
    expect(second.ref.messageId).not.toBe(first.ref.messageId);
    expect(await store.rounds.require(SCOPE, round.id)).toMatchObject({
      phase: 'polling',
      version: 2,
    });
    const candidates = await store.polls.candidates(SCOPE, round.id, 2);
    expect(candidates?.candidates.some((c) => c.source === 'revision')).toBe(true);
    const results = await service.finish(target, MODERATOR);
    expect(results.versions.map((v) => v.version)).toEqual([1, 2]);
    expect(results.unusedCritiques).toBe(0);
  });

  it('refuses to finish a round that never put a statement to a vote', async () => {
    h = await startHarness({ generator: new RevisionFails(), attempts: 1 });
    const { round } = await startRound(h);
    await h.runtime.store.rounds.update(SCOPE, round.id, (r) => ({ ...r, phase: 'failed' }));
    await expect(
      h.runtime.service.finish({ scope: SCOPE, channelId: CHANNEL }, MODERATOR),
    ).rejects.toThrow(/nothing to finish/);
  });
});

async function waitForStatement(h: Harness, roundId: string, version: number) {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const statements = h.platform.posted.filter(
      (m) => m.kind === 'statement' && m.roundId === roundId,
    );
    if (statements.length >= version) return statements[version - 1]!;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`statement v${version} not posted`);
}
