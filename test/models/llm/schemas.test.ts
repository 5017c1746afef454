import { describe, expect, it } from 'vitest';
import {
  batchRatingsSchema,
  parseOutput,
  ratingsSchema,
  StatementOutputSchema,
} from '../../../src/models/llm/schemas.js';

const ODD: unknown[] = [null, [], 'x', 4, true, {}, { ratings: null }, { ratings: [] }];

describe('parseOutput: the plain checks accept exactly what the schemas accept', () => {
  it.each<[string, unknown]>([
    ['valid', { ratings: { A: 1, B: 7 } }],
    ['a missing letter', { ratings: { A: 1 } }],
    ['an extra letter', { ratings: { A: 1, B: 2, C: 3 } }],
    ['an extra key beside ratings', { ratings: { A: 1, B: 2 }, note: 'x' }],
    // One end of the scale at a time: beside a 0, an 8 was only ever refused by zod.
    ['a rating above the scale', { ratings: { A: 8, B: 1 } }],
    ['a rating below the scale', { ratings: { A: 0, B: 7 } }],
    ['a fractional rating', { ratings: { A: 1.5, B: 2 } }],
    ['a rating as text', { ratings: { A: '4', B: 2 } }],
    ...ODD.map((v): [string, unknown] => [JSON.stringify(v), v]),
  ])('one member: %s', (_, value) => {
    const schema = ratingsSchema(['A', 'B']);
    const zod = schema.safeParse(value);
    const ours = parseOutput(schema, value);
    expect(ours.success).toBe(zod.success);
    if (ours.success && zod.success) expect(ours.data).toEqual(zod.data);
  });

  it.each<[string, unknown]>([
    ['valid', { ratings: { m1: { A: 3, B: 4 }, m2: { A: 5, B: 6 } } }],
    ['a missing member', { ratings: { m1: { A: 3, B: 4 } } }],
    [
      'an extra member',
      { ratings: { m1: { A: 3, B: 4 }, m2: { A: 5, B: 6 }, m3: { A: 1, B: 1 } } },
    ],
    ['a member missing a letter', { ratings: { m1: { A: 3 }, m2: { A: 5, B: 6 } } }],
    ['a member as a list', { ratings: { m1: [3, 4], m2: { A: 5, B: 6 } } }],
    ['a rating above the scale', { ratings: { m1: { A: 3, B: 4 }, m2: { A: 8, B: 1 } } }],
    ['a rating below the scale', { ratings: { m1: { A: 0, B: 7 }, m2: { A: 5, B: 6 } } }],
    ...ODD.map((v): [string, unknown] => [JSON.stringify(v), v]),
  ])('a batch: %s', (_, value) => {
    const schema = batchRatingsSchema(['m1', 'm2'], ['A', 'B']);
    const zod = schema.safeParse(value);
    const ours = parseOutput(schema, value);
    expect(ours.success).toBe(zod.success);
    if (ours.success && zod.success) expect(ours.data).toEqual(zod.data);
  });

  it.each<[string, unknown]>([
    ['valid', { statement: 'We agree.' }],
    ['not text', { statement: 4 }],
    ['an extra key', { statement: 'We agree.', why: 'because' }],
    ...ODD.map((v): [string, unknown] => [JSON.stringify(v), v]),
  ])('a statement: %s', (_, value) => {
    const zod = StatementOutputSchema.safeParse(value);
    const ours = parseOutput(StatementOutputSchema, value);
    expect(ours.success).toBe(zod.success);
    if (!ours.success && !zod.success) {
      // Refused output still gets zod's own message.
      expect(ours.error.issues[0]?.message).toBe(zod.error.issues[0]?.message);
    }
  });
});
