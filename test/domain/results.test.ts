import { describe, expect, it } from 'vitest';
import { DomainError } from '../../src/domain/errors.js';
import type { Rating } from '../../src/domain/rating.js';
import {
  approvalBelow,
  endorsement,
  everyoneRated,
  latestRatings,
  pollResults,
  SCHULZE_RESULTS_NOTE,
} from '../../src/domain/results.js';
import type { WelfareName } from '../../src/domain/welfare-name.js';

function rating(participantId: string, optionKey: string, approval: number, at = 1): Rating {
  return { participantId, optionKey, approval, at };
}

// p1 first disagreed, then agreed; p4 was predicted but did not rate; p5 was not predicted.
const ratings: Rating[] = [
  rating('p1', 'disagree', 0, 1),
  rating('p2', 'unsure', 0.5, 2),
  rating('p3', 'disagree', 0, 3),
  rating('p1', 'agree', 1, 5),
];
const predicted = { p1: 0.8, p2: 0.5, p3: 0.3, p4: 0.6, p5: null };

describe('pollResults with ratings', () => {
  const cases: {
    welfare: WelfareName;
    value: number;
    welfareFunction: string;
    note: string | null;
  }[] = [
    // actual approvals: p1 1, p2 0.5, p3 0
    { welfare: 'utilitarian', value: 0.5, welfareFunction: 'utilitarian', note: null },
    { welfare: 'egalitarian', value: 0, welfareFunction: 'egalitarian', note: null },
    // (ln 1 + ln 0.5 + ln 0.001) / 3
    { welfare: 'nash', value: -2.533634, welfareFunction: 'nash', note: null },
    {
      welfare: 'schulze',
      value: 0.5,
      welfareFunction: 'utilitarian',
      note: SCHULZE_RESULTS_NOTE,
    },
  ];

  it.each(cases)('$welfare', ({ welfare, value, welfareFunction, note }) => {
    const results = pollResults({ scale: 'approval3', ratings, predicted, welfare });
    expect(results.welfare).toBe(welfare);
    expect(results.welfareFunction).toBe(welfareFunction);
    expect(results.welfareNote).toBe(note);
    expect(results.welfareValue).toBeCloseTo(value, 6);
  });

  it('computes bridging welfare of the ratings over the groups the scores learned', () => {
    // p1 (1) and p2 (0.5) in group 0, p3 (0) in group 1: (ln 0.75 + ln 0.001) / 2.
    const grouped = pollResults({
      scale: 'approval3',
      ratings,
      predicted,
      welfare: 'bridging',
      groups: { p1: 0, p2: 0, p3: 1 },
    });
    expect(grouped.welfareFunction).toBe('bridging');
    expect(grouped.welfareNote).toBeNull();
    expect(grouped.welfareValue).toBeCloseTo((Math.log(0.75) + Math.log(0.001)) / 2, 9);
    // Without groups the room is one group: ln of the mean, 0.5.
    const room = pollResults({ scale: 'approval3', ratings, predicted, welfare: 'bridging' });
    expect(room.welfareValue).toBeCloseTo(Math.log(0.5), 9);
  });

  it('counts, distributes and compares with the predictions', () => {
    const results = pollResults({ scale: 'approval3', ratings, predicted, welfare: 'egalitarian' });
    expect(results).toMatchObject({
      scale: 'approval3',
      ratingCount: 3,
      meanApproval: 0.5,
      predictedCount: 4,
      comparedCount: 3,
      leastServed: { participantIds: ['p3'], approval: 0, basis: 'rated' },
    });
    expect(results.distribution).toEqual([
      { key: 'agree', label: 'agree', approval: 1, count: 1 },
      { key: 'unsure', label: 'unsure', approval: 0.5, count: 1 },
      { key: 'disagree', label: 'disagree', approval: 0, count: 1 },
    ]);
    // |0.8 - 1| + |0.5 - 0.5| + |0.3 - 0| = 0.5, over 3 members
    expect(results.meanAbsoluteError).toBeCloseTo(0.5 / 3, 12);
  });

  it('names every member tied at the lowest approval, sorted', () => {
    const results = pollResults({
      scale: 'approval3',
      ratings: [
        rating('zed', 'disagree', 0),
        rating('amy', 'disagree', 0),
        rating('bo', 'agree', 1),
      ],
      predicted: {},
      welfare: 'utilitarian',
    });
    expect(results.leastServed).toEqual({
      participantIds: ['amy', 'zed'],
      approval: 0,
      basis: 'rated',
    });
    expect(results.meanAbsoluteError).toBeNull();
    expect(results.comparedCount).toBe(0);
    expect(results.predictedCount).toBe(0);
  });

  it('keeps the likert7 options in scale order', () => {
    const results = pollResults({
      scale: 'likert7',
      ratings: [
        rating('a', '7', 1),
        rating('b', '4', 0.5),
        rating('c', '4', 0.5),
        rating('d', '1', 0),
      ],
      predicted: { a: 1, b: 0.25, c: null, d: 0 },
      welfare: 'utilitarian',
    });
    expect(results.distribution.map((o) => [o.key, o.count])).toEqual([
      ['1', 1],
      ['2', 0],
      ['3', 0],
      ['4', 2],
      ['5', 0],
      ['6', 0],
      ['7', 1],
    ]);
    // (1 + 0.5 + 0.5 + 0) / 4
    expect(results.meanApproval).toBe(0.5);
    // a: 0, b: |0.25 - 0.5| = 0.25, d: 0; c not predicted
    expect(results.comparedCount).toBe(3);
    expect(results.meanAbsoluteError).toBeCloseTo(0.25 / 3, 12);
  });
});

describe('pollResults without ratings', () => {
  it('does not crash and falls back to the predictions for the least served', () => {
    const results = pollResults({ scale: 'approval3', ratings: [], predicted, welfare: 'nash' });
    expect(results).toEqual({
      scale: 'approval3',
      welfare: 'nash',
      welfareFunction: 'nash',
      welfareNote: null,
      ratingCount: 0,
      distribution: [
        { key: 'agree', label: 'agree', approval: 1, count: 0 },
        { key: 'unsure', label: 'unsure', approval: 0.5, count: 0 },
        { key: 'disagree', label: 'disagree', approval: 0, count: 0 },
      ],
      meanApproval: null,
      welfareValue: null,
      leastServed: { participantIds: ['p3'], approval: 0.3, basis: 'predicted' },
      predictedLeastServed: { participantIds: ['p3'], approval: 0.3, basis: 'predicted' },
      predictedCount: 4,
      meanPredictedApproval: expect.closeTo((0.8 + 0.5 + 0.3 + 0.6) / 4, 12),
      comparedCount: 0,
      meanAbsoluteError: null,
    });
  });

  it('has no least served when nothing was predicted either', () => {
    const results = pollResults({
      scale: 'likert7',
      ratings: [],
      predicted: { p1: null },
      welfare: 'schulze',
    });
    expect(results.leastServed).toBeNull();
    expect(results.predictedCount).toBe(0);
    expect(results.welfareValue).toBeNull();
  });
});

describe('latestRatings', () => {
  it.each([
    {
      name: 'later time wins',
      input: [rating('p', 'agree', 1, 5), rating('p', 'disagree', 0, 3)],
      kept: 'agree',
    },
    {
      name: 'equal times: later in the array wins',
      input: [rating('p', 'agree', 1, 5), rating('p', 'unsure', 0.5, 5)],
      kept: 'unsure',
    },
  ])('$name', ({ input, kept }) => {
    const latest = latestRatings(input);
    expect(latest).toHaveLength(1);
    expect(latest[0]?.optionKey).toBe(kept);
  });
});

describe('invalid ratings', () => {
  it('rejects an option the scale does not have', () => {
    const call = () =>
      pollResults({
        scale: 'approval3',
        ratings: [rating('p1', '7', 1)],
        predicted: {},
        welfare: 'utilitarian',
      });
    expect(call).toThrow(DomainError);
    expect(call).toThrow(/option "7"/);
  });
});

describe('everyoneRated', () => {
  const ratings = (...ids: string[]) => ids.map((participantId) => ({ participantId }));
  it.each([
    [['a', 'b'], ratings('a', 'b'), true],
    [['a', 'b'], ratings('b', 'a', 'z'), true],
    [['a', 'b'], ratings('a', 'z'), false],
    [['a', 'b'], ratings(), false],
    [[], ratings('a'), false],
  ])('participants %j, ratings %j: %s', (participants, given, expected) => {
    expect(everyoneRated(participants, given)).toBe(expected);
  });
});

describe('verdicts at the boundary', () => {
  // likert7 4/7, 5/7, 3/7: approvals 1/2, 2/3, 1/3, a mean of exactly 1/2.
  const likert = [
    rating('p1', '4', 0.5, 1),
    rating('p2', '5', 4 / 6, 2),
    rating('p3', '3', 2 / 6, 3),
  ];

  it('endorses a mean of exactly 50% however floating point sums it', () => {
    const results = pollResults({
      scale: 'likert7',
      ratings: likert,
      predicted: {},
      welfare: 'utilitarian',
    });
    expect(endorsement(results, 3)).toBe('endorsed');
    expect(endorsement(results, 4)).toBe('not enough ratings');
  });

  it('calls a mean under a threshold only when it truly is', () => {
    expect(approvalBelow(0.49999999999999994, 0.5)).toBe(false);
    expect(approvalBelow(0.67, 67 / 100)).toBe(false);
    expect(approvalBelow(2 / 3, 0.67)).toBe(true);
    expect(approvalBelow(0.4999, 0.5)).toBe(true);
  });
});
