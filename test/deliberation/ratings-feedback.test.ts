import { afterEach, describe, expect, it } from 'vitest';
import type { Scope } from '../../src/domain/scope.js';
import { BlendedRewardModel } from '../../src/models/blended-reward-model.js';
import { LexicalRewardModel } from '../../src/models/offline/lexical-reward-model.js';
import type { RewardModel } from '../../src/models/ports.js';
import { matrixStatementId } from '../../src/store/ratings-matrix.js';
import {
  CHANNEL,
  type Harness,
  MODERATOR,
  OPINIONS,
  SCOPE,
  startHarness,
} from '../support/harness.js';
import { finish, rate, roundToClose, roundToPoll } from './learning-support.js';

const OTHER: Scope = { platform: 'console', workspaceId: 'W2' };
const VOTES = { ana: 'agree', ben: 'disagree', cai: 'agree', dee: 'disagree' };
const ACTUAL: Record<string, number> = { ana: 1, ben: 0, cai: 1, dee: 0 };

/** Eight earlier polls rated by two camps of six (a1-a6, b1-b6) who always disagree. */
async function seedTwoCamps(h: Harness): Promise<void> {
  const camps = {
    a: ['a1', 'a2', 'a3', 'a4', 'a5', 'a6'],
    b: ['b1', 'b2', 'b3', 'b4', 'b5', 'b6'],
  };
  for (let i = 0; i < 8; i++) {
    const approvalOf = (camp: 'a' | 'b') => ((i % 2 === 0) === (camp === 'a') ? 1 : 0);
    await h.runtime.store.ratingsMatrix.recordPoll(SCOPE, {
      roundId: `past${i}`,
      version: 1,
      question: 'An earlier question',
      statement: `Earlier statement ${i}`,
      openedAt: i,
      ratings: (['a', 'b'] as const).flatMap((camp) =>
        camps[camp].map((participantId) => ({
          participantId,
          optionKey: approvalOf(camp) === 1 ? 'agree' : 'disagree',
          approval: approvalOf(camp),
          at: i,
        })),
      ),
      opinions: [],
    });
  }
}

const OFFICE_OPINIONS = {
  a1: 'We should move the office to the city centre.',
  a2: 'The city centre is easier to reach by train.',
  a3: 'A central office would help hiring.',
  b1: 'Stay in the suburbs, rent is cheaper.',
  b2: 'Parking in the centre is impossible.',
};

/** Each member's click on the statement's rating buttons, every one counted. */
async function clickAll(h: Harness, messageId: string, votes: Record<string, string>) {
  for (const [userId, optionKey] of Object.entries(votes)) {
    const outcome = await h.runtime.service.react({
      scope: SCOPE,
      channelId: CHANNEL,
      messageId,
      userId,
      optionKey,
      at: 100,
      removed: false,
      source: 'button',
    });
    expect(outcome.status, userId).toBe('recorded');
  }
}

describe('every poll feeds the workspace ratings matrix, and scoring learns from it', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('records a finished poll in its own workspace only, latest rating per member', async () => {
    h = await startHarness();
    const { round, statementMessageId } = await roundToPoll(h, SCOPE);
    await rate(h, SCOPE, statementMessageId, VOTES, 100);
    // ana changes her mind: her latest reaction counts.
    await rate(h, SCOPE, statementMessageId, { ana: 'unsure' }, 200);
    expect(await h.runtime.store.ratingsMatrix.count(SCOPE)).toBe(0); // not before the close
    await finish(h, SCOPE, round.id);

    const matrix = await h.runtime.store.ratingsMatrix.load(SCOPE);
    const id = matrixStatementId(round.id, 1);
    expect(matrix.statements.map((s) => s.id)).toEqual([id]);
    const poll = await h.runtime.store.polls.poll(SCOPE, round.id, 1);
    expect(matrix.statements[0]?.text).toBe(poll?.statement);
    expect(
      Object.fromEntries(matrix.ratings.map((r) => [r.member, [r.statement, r.approval]])),
    ).toEqual({ ana: [id, 0.5], ben: [id, 0], cai: [id, 1], dee: [id, 0] });
    expect(matrix.members.find((m) => m.id === 'ben')?.text).toBe(OPINIONS.ben);

    expect(await h.runtime.store.ratingsMatrix.count(OTHER)).toBe(0);
    expect(await h.runtime.store.ratingsMatrix.load(OTHER)).toEqual({
      members: [],
      statements: [],
      ratings: [],
    });
  });

  it('records a poll whose round is cancelled instead of finished', async () => {
    h = await startHarness();
    const { round, statementMessageId } = await roundToPoll(h, SCOPE);
    await rate(h, SCOPE, statementMessageId, VOTES);
    const moderator = { userId: 'mod', moderator: true, mayStart: true };
    await h.runtime.service.cancel(
      { scope: SCOPE, channelId: CHANNEL, roundId: round.id },
      moderator,
    );
    const matrix = await h.runtime.store.ratingsMatrix.load(SCOPE);
    expect(matrix.statements.map((s) => s.id)).toEqual([matrixStatementId(round.id, 1)]);
    expect(matrix.ratings).toHaveLength(4);
  });

  it('records a poll whose round is cancelled because its thread was deleted', async () => {
    h = await startHarness();
    const { round, statementMessageId } = await roundToPoll(h, SCOPE);
    await rate(h, SCOPE, statementMessageId, VOTES);
    const thread = (await h.runtime.store.rounds.require(SCOPE, round.id)).questionRef;
    expect(
      await h.runtime.service.threadDeleted(SCOPE, CHANNEL, thread?.messageId ?? ''),
    ).not.toBeNull();
    const matrix = await h.runtime.store.ratingsMatrix.load(SCOPE);
    expect(matrix.statements.map((s) => s.id)).toEqual([matrixStatementId(round.id, 1)]);
    expect(matrix.ratings).toHaveLength(4);
  });

  it('keeps an anonymous round out of the matrix, finished or cancelled', async () => {
    h = await startHarness();
    // Pseudonymous ratings cannot be tied to an opinion, and would count towards
    // LEARNED_MIN_RATINGS as members who do not exist: they must never be recorded.
    for (const end of ['finish', 'cancel'] as const) {
      const { round, statementMessageId } = await roundToPoll(h, SCOPE, OPINIONS, undefined, {
        anonymous: true,
      });
      await clickAll(h, statementMessageId, { ana: 'agree', ben: 'disagree' });
      const target = { scope: SCOPE, channelId: CHANNEL, roundId: round.id };
      if (end === 'finish') await finish(h, SCOPE, round.id);
      else await h.runtime.service.cancel(target, MODERATOR);
    }
    expect(await h.runtime.store.ratingsMatrix.count(SCOPE)).toBe(0);
    expect(await h.runtime.store.ratingsMatrix.load(SCOPE)).toEqual({
      members: [],
      statements: [],
      ratings: [],
    });
  });

  it('records the previous poll when a revision closes it', async () => {
    h = await startHarness();
    const { round, statementMessageId } = await roundToPoll(h, SCOPE);
    await rate(h, SCOPE, statementMessageId, VOTES);
    const target = { scope: SCOPE, channelId: 'C1', roundId: round.id };
    const moderator = { userId: 'mod', moderator: true, mayStart: true };
    await h.runtime.service.critique(target, moderator);
    const critiqueThread = (await h.runtime.store.rounds.require(SCOPE, round.id)).questionRef;
    await h.runtime.service.reply({
      scope: SCOPE,
      channelId: 'C1',
      threadRootId: critiqueThread?.messageId ?? '',
      messageId: 'crit-ben',
      userId: 'ben',
      text: 'It ignores customer support entirely.',
      at: 300,
    });
    await h.runtime.service.close(target, moderator);
    await h.platform.waitFor('statement', round.id, 30_000, 2);
    const matrix = await h.runtime.store.ratingsMatrix.load(SCOPE);
    expect(matrix.statements.map((s) => s.id)).toEqual([matrixStatementId(round.id, 1)]);
    expect(matrix.ratings).toHaveLength(4);
  });

  it("the results name each version's model when a revision is the first to be blended", async () => {
    const base = new LexicalRewardModel();
    h = await startHarness({ rewardModel: new BlendedRewardModel(base, { minRatings: 4 }) });
    const { round, statementMessageId } = await roundToPoll(h, SCOPE);
    await rate(h, SCOPE, statementMessageId, VOTES);
    const target = { scope: SCOPE, channelId: CHANNEL, roundId: round.id };
    const moderator = { userId: 'mod', moderator: true, mayStart: true };
    await h.runtime.service.critique(target, moderator);
    const thread = (await h.runtime.store.rounds.require(SCOPE, round.id)).questionRef;
    await h.runtime.service.reply({
      scope: SCOPE,
      channelId: CHANNEL,
      threadRootId: thread?.messageId ?? '',
      messageId: 'crit-ben',
      userId: 'ben',
      text: 'It ignores customer support entirely.',
      at: 300,
    });
    await h.runtime.service.close(target, moderator);
    await h.platform.waitFor('statement', round.id, 30_000, 2);
    // Version 1 was scored before any rating, version 2 after version 1's four joined the
    // matrix: naming only the last model would credit the blend with version 1's guesses.
    expect((await h.runtime.store.polls.scores(SCOPE, round.id, 1))?.model).toBe(base.name);
    const view = await h.runtime.service.results(target);
    expect(view.model).toBe(
      `${base.name} for version 1; ${base.name} blended with learned (4 ratings) for version 2`,
    );
  });

  it('a second round predicts members who rated closer to what they actually said', async () => {
    const base = new LexicalRewardModel();
    h = await startHarness({ rewardModel: new BlendedRewardModel(base, { minRatings: 4 }) });
    const first = await roundToPoll(h, SCOPE);
    const firstScores = await h.runtime.store.polls.scores(SCOPE, first.round.id, 1);
    // Below the threshold (no ratings yet): the base model alone, under its own name.
    expect(firstScores?.model).toBe(base.name);
    await rate(h, SCOPE, first.statementMessageId, VOTES);
    await finish(h, SCOPE, first.round.id);

    const second = await roundToPoll(h, SCOPE);
    const scores = await h.runtime.store.polls.scores(SCOPE, second.round.id, 1);
    expect(scores?.model).toBe(`${base.name} blended with learned (4 ratings)`);
    const view = await h.runtime.service.results({
      scope: SCOPE,
      channelId: 'C1',
      roundId: second.round.id,
    });
    expect(view.model).toBe(`${base.name} blended with learned (4 ratings)`);

    // The same candidates scored by the base model alone: what the round would have said.
    const candidates = await h.runtime.store.polls.candidates(SCOPE, second.round.id, 1);
    const plain = await base.predict({
      question: second.round.question,
      participants: Object.entries(OPINIONS).map(([id, opinion]) => ({
        id,
        opinion,
        critique: null,
      })),
      candidates: candidates?.candidates ?? [],
      seed: 1,
    });
    const error = (approvals: (number | null)[][], participants: string[]) => {
      let sum = 0;
      approvals.forEach((row) => {
        row.forEach((a, p) => {
          sum += Math.abs((a ?? 0.5) - (ACTUAL[participants[p] ?? ''] ?? 0.5));
        });
      });
      return sum;
    };
    expect(scores?.matrix.participants).toEqual(plain.matrix.participants);
    expect(error(scores?.matrix.approvals ?? [], scores?.matrix.participants ?? [])).toBeLessThan(
      error(plain.matrix.approvals, plain.matrix.participants),
    );
    // Member by member, too: each prediction moved toward that member's rating.
    for (const [p, member] of plain.matrix.participants.entries()) {
      const actual = ACTUAL[member] ?? 0.5;
      const before = plain.matrix.approvals.map((row) => Math.abs((row[p] ?? 0) - actual));
      const after = (scores?.matrix.approvals ?? []).map((row) => Math.abs((row[p] ?? 0) - actual));
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      expect(mean(after)).toBeLessThan(mean(before));
    }
  });

  it('keeps workspaces apart: another workspace with ratings does not make this one blend', async () => {
    const base = new LexicalRewardModel();
    h = await startHarness({ rewardModel: new BlendedRewardModel(base, { minRatings: 4 }) });
    const first = await roundToPoll(h, OTHER);
    await rate(h, OTHER, first.statementMessageId, VOTES);
    await finish(h, OTHER, first.round.id);
    const mine = await roundToPoll(h, SCOPE);
    expect((await h.runtime.store.polls.scores(SCOPE, mine.round.id, 1))?.model).toBe(base.name);
  });
  it('bridges the opinion groups learned from earlier polls when a round asks for bridging', async () => {
    const base = new LexicalRewardModel();
    h = await startHarness({ rewardModel: new BlendedRewardModel(base, { minRatings: 30 }) });
    await seedTwoCamps(h);
    const { round } = await roundToPoll(h, SCOPE, OFFICE_OPINIONS, 'Where should the office be?', {
      welfare: 'bridging',
    });
    const scores = await h.runtime.store.polls.scores(SCOPE, round.id, 1);
    expect(scores?.model).toBe(`${base.name} blended with learned (96 ratings)`);
    const groupOf = new Map(
      (scores?.matrix.participants ?? []).map((p, i) => [p, scores?.matrix.groups?.[i]]),
    );
    expect(groupOf.get('a1')).toBe(groupOf.get('a3'));
    expect(groupOf.get('b1')).toBe(groupOf.get('b2'));
    expect(groupOf.get('a1')).not.toBe(groupOf.get('b1'));
    const poll = await h.runtime.store.polls.poll(SCOPE, round.id, 1);
    expect(poll?.method).toMatch(/bridging welfare .*over 2 opinion groups/);
  });

  it('learns from the latest LEARNED_MAX_STATEMENTS statements only, and stores every poll', async () => {
    const base = new LexicalRewardModel();
    // The runtime blends a plain reward model itself, with the settings' threshold (30).
    h = await startHarness({ rewardModel: base, env: { LEARNED_MAX_STATEMENTS: '3' } });
    await seedTwoCamps(h);
    const { round } = await roundToPoll(h, SCOPE, OFFICE_OPINIONS, 'Where should the office be?');
    const scores = await h.runtime.store.polls.scores(SCOPE, round.id, 1);
    // 3 of the 8 earlier polls, 12 ratings each: the whole matrix (96) is above the
    // threshold, what the model fits on (36) is reported.
    expect(scores?.model).toBe(`${base.name} blended with learned (36 ratings)`);
    expect((await h.runtime.store.ratingsMatrix.load(SCOPE)).ratings).toHaveLength(96);
  });

  it('scores with the base model alone, saying why, when stored matrix data no longer reads', async () => {
    const base = new LexicalRewardModel();
    h = await startHarness({ rewardModel: base, env: { LEARNED_MAX_STATEMENTS: '3' } });
    await seedTwoCamps(h);
    // One rating in the index that is not JSON (a bad restore, a hand edit, foreign data).
    const id = matrixStatementId('past7', 1);
    await h.redis.hset(`${h.prefix}:console.W1:matrix:statement:${id}`, 'a1', '{not json');
    const { round } = await roundToPoll(h, SCOPE, OFFICE_OPINIONS, 'Where should the office be?');
    expect((await h.runtime.store.polls.scores(SCOPE, round.id, 1))?.model).toBe(base.name);
    const warning = h.log.lines.find((l) => l.message.includes('ratings matrix could not be read'));
    expect(warning?.level).toBe('warn');
    expect(String((warning?.fields as { err?: unknown } | undefined)?.err)).toMatch(
      /is invalid: not JSON/,
    );
  });

  it('ends a learned-model fit in progress when the runtime closes; the round keeps the base scores', async () => {
    const lexical = new LexicalRewardModel();
    let scoring: () => void = () => {};
    const scored = new Promise<void>((r) => {
      scoring = r;
    });
    // The runtime blends this itself (in a thread, with its stop signal); it says when
    // scoring begins, just before the fit.
    const base: RewardModel = {
      name: lexical.name,
      async predict(input, signal) {
        const result = await lexical.predict(input, signal);
        scoring();
        return result;
      },
    };
    h = await startHarness({ rewardModel: base });
    // A history large enough that its fit takes about a second, in which the round's
    // members have rated too (a round of newcomers only is not fitted at all).
    const members = Object.keys(OPINIONS);
    for (let s = 0; s < 400; s++) {
      await h.runtime.store.ratingsMatrix.recordPoll(SCOPE, {
        roundId: `past${s}`,
        version: 1,
        question: 'An earlier question',
        statement: `Earlier statement ${s} about ${s % 2 === 0 ? 'cycling lanes' : 'car parking'}`,
        openedAt: s,
        ratings: Array.from({ length: 12 }, (_, k) => {
          const member = (s * 7 + k * 31) % 300;
          const approval = member % 2 === s % 2 ? 1 : 0;
          const participantId = members[member] ?? `m${member}`;
          return { participantId, optionKey: 'agree', approval, at: s };
        }),
        opinions: [],
      });
    }
    const round = await roundToClose(h, SCOPE, OPINIONS, 'Cycling or parking?');
    await scored;
    await h.runtime.close();
    expect(h.log.lines.map((l) => l.message)).toContain(
      'the learned model could not be fitted; scoring with the base model alone',
    );
    expect((await h.runtime.store.polls.scores(SCOPE, round.id, 1))?.model).toBe(lexical.name);
  });

  it('reports the bridging welfare of an anonymous round over the groups, raters under pseudonyms', async () => {
    const base = new LexicalRewardModel();
    h = await startHarness({ rewardModel: new BlendedRewardModel(base, { minRatings: 30 }) });
    await seedTwoCamps(h);
    const { round, statementMessageId } = await roundToPoll(
      h,
      SCOPE,
      OFFICE_OPINIONS,
      'Where should the office be?',
      { welfare: 'bridging', anonymous: true },
    );
    const votes = { a1: 'agree', a2: 'agree', a3: 'unsure', b1: 'disagree', b2: 'unsure' };
    await clickAll(h, statementMessageId, votes);
    const view = await finish(h, SCOPE, round.id);
    const results = view.versions[0]?.results;
    // Camp a rated 1, 1, 0.5 and camp b 0, 0.5: (ln 5/6 + ln 1/4) / 2, not ln of the mean.
    expect(results?.welfareFunction).toBe('bridging');
    expect(results?.welfareValue).toBeCloseTo((Math.log(5 / 6) + Math.log(0.25)) / 2, 9);
  });
});
