import { describe, expect, it } from 'vitest';
import { selectConsensus } from '../../src/domain/selection.js';
import { BlendedRewardModel } from '../../src/models/blended-reward-model.js';
import type { LearnedInput } from '../../src/models/learned/model.js';
import type { PredictInput, RatingsHistory, RewardModel } from '../../src/models/ports.js';
import { NO_USAGE } from '../../src/models/ports.js';
import { RecordingLog } from '../support/harness.js';

/** A base model that predicts one half for everyone, so any move comes from the blend. */
const half: RewardModel = {
  name: 'constant',
  async predict(input) {
    return {
      matrix: {
        participants: input.participants.map((p) => p.id),
        candidates: input.candidates.map((c) => c.id),
        approvals: input.candidates.map(() => input.participants.map(() => 0.5)),
      },
      usage: NO_USAGE,
      model: 'constant (0.5)',
    };
  },
};

/** Six statements on one theme: yes always agrees, no always disagrees. */
function history(): LearnedInput {
  const statements = Array.from({ length: 6 }, (_, i) => ({
    id: `r${i}.v1`,
    text: `A four-day week trial with support rota, variant ${i}`,
  }));
  return {
    members: [
      { id: 'yes', text: 'I want a four-day week.' },
      { id: 'no', text: 'Customers need us five days.' },
    ],
    statements,
    ratings: statements.flatMap((s) => [
      { member: 'yes', statement: s.id, approval: 1 },
      { member: 'no', statement: s.id, approval: 0 },
    ]),
  };
}

function port(data: LearnedInput): RatingsHistory & { loads: number } {
  const p = {
    loads: 0,
    count: async () => data.ratings.length,
    load: async () => {
      p.loads++;
      return data;
    },
  };
  return p;
}

const input = (h?: RatingsHistory): PredictInput => ({
  question: 'Four-day week?',
  participants: [
    { id: 'yes', opinion: 'Yes please.', critique: null },
    { id: 'no', opinion: 'No.', critique: null },
    { id: 'new', opinion: 'Not sure.', critique: null },
  ],
  candidates: [
    {
      id: 'c1',
      text: 'A four-day week trial with a support rota',
      source: 'opinion',
      explanation: null,
    },
  ],
  seed: 1,
  ...(h ? { history: h } : {}),
});

describe('BlendedRewardModel', () => {
  it('uses the base model alone below the threshold, without loading the matrix', async () => {
    const h = port(history());
    const model = new BlendedRewardModel(half, { minRatings: 13 });
    const result = await model.predict(input(h));
    expect(result.model).toBe('constant (0.5)');
    expect(result.matrix.approvals).toEqual([[0.5, 0.5, 0.5]]);
    expect(h.loads).toBe(0);
    expect(model.name).toBe('constant');
  });

  it('uses the base model alone without a history (outside the pipeline)', async () => {
    const result = await new BlendedRewardModel(half, { minRatings: 0 }).predict(input());
    expect(result.model).toBe('constant (0.5)');
  });

  it('blends at the threshold, moving raters toward their record and leaving newcomers', async () => {
    const model = new BlendedRewardModel(half, { minRatings: 12 });
    const result = await model.predict(input(port(history())));
    expect(result.model).toBe('constant (0.5) blended with learned (12 ratings)');
    const [yes, no, newcomer] = result.matrix.approvals[0] ?? [];
    expect(yes).toBeGreaterThan(0.6);
    expect(no).toBeLessThan(0.4);
    expect(newcomer).toBe(0.5);
    // Never more than half learned: the base model still reads this round's candidate.
    expect(yes).toBeLessThanOrEqual(0.75);
    expect(no).toBeGreaterThanOrEqual(0.25);
  });
  it("weighs the learned share by each member's own number of ratings", async () => {
    // A learner that predicts full approval for everyone: each member's move away from the
    // base 0.5 is exactly their learned weight, maxWeight * n / (n + memberShrink).
    const model = new BlendedRewardModel(half, {
      minRatings: 0,
      learn: async (request) => ({
        approvals: request.statements.map(() => request.members.map(() => 1)),
        groups: [],
      }),
    });
    const statements = Array.from({ length: 12 }, (_, i) => ({ id: `r${i}.v1`, text: `S ${i}` }));
    const data: LearnedInput = {
      members: [
        { id: 'one', text: null },
        { id: 'many', text: null },
      ],
      statements,
      ratings: [
        { member: 'one', statement: 'r0.v1', approval: 1 },
        ...statements.map((s) => ({ member: 'many', statement: s.id, approval: 1 })),
      ],
    };
    const result = await model.predict({
      ...input(port(data)),
      participants: [
        { id: 'one', opinion: 'Yes.', critique: null },
        { id: 'many', opinion: 'Yes.', critique: null },
      ],
    });
    const [one, many] = result.matrix.approvals[0] ?? [];
    // One reaction moves a member an eighth of the way (0.5 * 1/4), not the full half.
    expect(one).toBeCloseTo(0.5 + 0.125 * 0.5, 9);
    expect(many).toBeCloseTo(0.5 + 0.4 * 0.5, 9); // 0.5 * 12/15
  });

  it('rechecks the threshold on the windowed load, which can hold fewer ratings than stored', async () => {
    // 40 ratings stored pass LEARNED_MIN_RATINGS=30, but the latest statements hold three:
    // blending on them would be a learned model below the configured threshold.
    let fits = 0;
    const model = new BlendedRewardModel(half, {
      minRatings: 30,
      maxStatements: 1,
      learn: async (request) => {
        fits++;
        return {
          approvals: request.statements.map(() => request.members.map(() => 1)),
          groups: [],
        };
      },
    });
    const windowed: LearnedInput = {
      members: [{ id: 'yes', text: null }],
      statements: [{ id: 'r0.v1', text: 'S' }],
      ratings: [
        { member: 'yes', statement: 'r0.v1', approval: 1 },
        { member: 'no', statement: 'r0.v1', approval: 0 },
        { member: 'new', statement: 'r0.v1', approval: 1 },
      ],
    };
    const h: RatingsHistory = { count: async () => 40, load: async () => windowed };
    const result = await model.predict(input(h));
    expect(result.model).toBe('constant (0.5)');
    expect(result.matrix.approvals).toEqual([[0.5, 0.5, 0.5]]);
    expect(fits).toBe(0);
  });

  it('hands the opinion groups it learned to selection, for bridging welfare', async () => {
    // Two camps of six: camp a agrees with s0-s3 and rejects s4-s7, camp b the reverse.
    const statements = Array.from({ length: 8 }, (_, i) => ({
      id: `s${i}`,
      text: `Statement ${i} on the office move`,
    }));
    const members = [...'abcdefghijkl'].map((letter) => ({ id: letter, text: '' }));
    const camp = (id: string) => ('abcdef'.includes(id) ? 'a' : 'b');
    const data: LearnedInput = {
      members,
      statements,
      ratings: members.flatMap((m) =>
        statements.map((s, i) => ({
          member: m.id,
          statement: s.id,
          approval: i < 4 === (camp(m.id) === 'a') ? 1 : 0,
        })),
      ),
    };
    const participants = ['a', 'b', 'g', 'h', 'newcomer'];
    const result = await new BlendedRewardModel(half, { minRatings: 30 }).predict({
      ...input(port(data)),
      participants: participants.map((id) => ({ id, opinion: 'An opinion.', critique: null })),
    });
    const groups = result.matrix.groups;
    expect(groups).toHaveLength(participants.length);
    const [a, b, g, h, newcomer] = groups ?? [];
    expect(a).toBe(b);
    expect(g).toBe(h);
    expect(a).not.toBe(g);
    expect(Math.min(a ?? -1, g ?? -1)).toBeGreaterThanOrEqual(0);
    // The newcomer rated nothing: in no group, so bridging leaves them out.
    expect(newcomer).toBe(-1);
    const selection = selectConsensus(result.matrix, 'bridging', 1);
    expect(selection.description).toMatch(/over 2 opinion groups/);
  });

  it('learns no groups below the threshold, so bridging ranks by the mean', async () => {
    const result = await new BlendedRewardModel(half, { minRatings: 13 }).predict(
      input(port(history())),
    );
    expect(result.matrix.groups).toBeUndefined();
  });

  it('scores with the base model alone when the fit fails, and says so in the log', async () => {
    const log = new RecordingLog();
    const failing = new BlendedRewardModel(half, {
      minRatings: 12,
      log,
      learn: async () => {
        throw new Error('ERR_WORKER_OUT_OF_MEMORY');
      },
    });
    const result = await failing.predict(input(port(history())));
    expect(result.model).toBe('constant (0.5)');
    expect(result.matrix.approvals).toEqual([[0.5, 0.5, 0.5]]);
    const warning = log.lines.find((l) => l.level === 'warn');
    expect(warning?.message).toMatch(/base model alone/);
    expect(String((warning?.fields as { err?: Error } | undefined)?.err)).toMatch(/OUT_OF_MEMORY/);
  });

  it('scores with the base model alone when the stored history cannot be read', async () => {
    const log = new RecordingLog();
    const model = new BlendedRewardModel(half, { minRatings: 12, log });
    const unreadable: RatingsHistory = {
      count: async () => 12,
      load: async () => {
        throw new Error('Stored data at dlb:slack.T1:matrix:ratings is invalid: not JSON');
      },
    };
    const result = await model.predict(input(unreadable));
    expect(result.model).toBe('constant (0.5)');
    expect(result.matrix.approvals).toEqual([[0.5, 0.5, 0.5]]);
    const warning = log.lines.find((l) => l.level === 'warn');
    expect(warning?.message).toMatch(/could not be read; scoring with the base model alone/);
  });

  it('does not name a blend when there is no rating to learn from, even with a threshold of 0', async () => {
    let fits = 0;
    const model = new BlendedRewardModel(half, {
      minRatings: 0,
      learn: async (request) => {
        fits++;
        return {
          approvals: request.statements.map(() => request.members.map(() => 1)),
          groups: [],
        };
      },
    });
    const result = await model.predict(input(port({ ...history(), ratings: [] })));
    expect(result.model).toBe('constant (0.5)');
    expect(result.matrix.approvals).toEqual([[0.5, 0.5, 0.5]]);
    expect(fits).toBe(0);
  });

  it("does not name a blend when none of the round's members has rated anything", async () => {
    // A workspace with ratings, and a round of newcomers only: every number stays the base
    // model's (a member with no ratings keeps it), so the results must name the base model.
    let fits = 0;
    const model = new BlendedRewardModel(half, {
      minRatings: 12,
      learn: async (request) => {
        fits++;
        return {
          approvals: request.statements.map(() => request.members.map(() => 1)),
          groups: request.members.map(() => -1),
        };
      },
    });
    const newcomers: PredictInput = {
      ...input(port(history())),
      participants: [
        { id: 'new', opinion: 'Not sure.', critique: null },
        { id: 'newer', opinion: 'Maybe.', critique: null },
      ],
    };
    const result = await model.predict(newcomers);
    expect(result.matrix.approvals).toEqual([[0.5, 0.5]]);
    expect(result.model).toBe('constant (0.5)');
    expect(fits).toBe(0);
  });

  it('still fails a call whose own signal was aborted during the fit', async () => {
    const controller = new AbortController();
    const model = new BlendedRewardModel(half, {
      minRatings: 12,
      learn: async () => {
        controller.abort(new Error('job cancelled'));
        throw new Error('fit interrupted');
      },
    });
    await expect(model.predict(input(port(history())), controller.signal)).rejects.toThrow(
      'fit interrupted',
    );
  });
});
