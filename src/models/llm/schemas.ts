import { z } from 'zod';

/**
 * The JSON the models must answer with. The shapes go to the server as strict JSON
 * schemas (`response_format`), but local servers may ignore them, so every answer is
 * validated again here; the checks beyond the shape give each kind of bad output its
 * own reason in the logs and notes.
 */

export const STATEMENT_SCHEMA_NAME = 'consensus_statement';
export const RATINGS_SCHEMA_NAME = 'approval_ratings';

export const StatementOutputSchema = z.strictObject({ statement: z.string() });
export type StatementOutput = z.infer<typeof StatementOutputSchema>;

/**
 * Plain checks of exactly what a schema below accepts, made beside it: the models' output
 * is well formed nearly always, and zod's parse of it was a tenth of a judge call's CPU in
 * a fresh worker. parseOutput runs the schema only on output its check refuses, so every
 * failure still gets zod's message.
 */
const plainChecks = new WeakMap<z.ZodType, (value: unknown) => boolean>();

/** `schema`'s parse of `value`: by its plain check when it has one that accepts it. */
export function parseOutput<T>(schema: z.ZodType<T>, value: unknown): z.ZodSafeParseResult<T> {
  if (plainChecks.get(schema)?.(value)) return { success: true, data: value as T };
  return schema.safeParse(value);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A strict object: exactly these keys (no others), each value accepted by `ok`. */
function exactly(v: unknown, keys: readonly string[], ok: (x: unknown) => boolean): boolean {
  if (!isPlainObject(v)) return false;
  let seen = 0;
  for (const key in v) {
    if (!Object.hasOwn(v, key)) continue;
    seen++;
    if (!keys.includes(key) || !ok(v[key])) return false;
  }
  return seen === keys.length;
}

plainChecks.set(StatementOutputSchema, (v) =>
  exactly(v, ['statement'], (s) => typeof s === 'string'),
);

export function wordCount(text: string): number {
  const words = text.trim().split(/\s+/);
  return words[0] === '' ? 0 : words.length;
}

/** Why a generated statement is unusable, or null. */
export function checkStatement(output: StatementOutput, wordBudget: number): string | null {
  const text = output.statement.trim();
  if (text.length === 0) return 'the statement is empty';
  const words = wordCount(text);
  if (words > wordBudget) {
    return `the statement has ${words} words, over the budget of ${wordBudget}`;
  }
  return null;
}

/** The studies' 7-point agreement scale. */
export const AGREEMENT = { min: 1, max: 7 } as const;

/** 1 (strongly disagree) .. 7 (strongly agree) -> 0 .. 1, evenly spaced. */
export function approvalFromAgreement(rating: number): number {
  return (rating - AGREEMENT.min) / (AGREEMENT.max - AGREEMENT.min);
}

/** Candidates are lettered for the judge; 16 letters cover the largest K. */
export const LETTERS = 'ABCDEFGHIJKLMNOP'.split('');

/**
 * Exactly one whole rating per letter shown: a strict object, so a rating for a letter
 * that was not shown fails, and so does a missing one.
 */
export function ratingsSchema(letters: readonly string[]) {
  return memo(`${letters.join(',')}`, () => {
    const rating = z.number().int().min(AGREEMENT.min).max(AGREEMENT.max);
    const schema = z.strictObject({
      ratings: z.strictObject(Object.fromEntries(letters.map((l) => [l, rating]))),
    });
    const rated = (r: unknown) => exactly(r, letters, isRating);
    plainChecks.set(schema, (v) => exactly(v, ['ratings'], rated));
    return schema;
  });
}

function isRating(v: unknown): boolean {
  return Number.isInteger(v) && (v as number) >= AGREEMENT.min && (v as number) <= AGREEMENT.max;
}
export type RatingsOutput = { ratings: Record<string, number> };

export const BATCH_RATINGS_SCHEMA_NAME = 'approval_ratings_batch';

/** One strict ratings object per member key: a missing or extra member or letter fails. */
export function batchRatingsSchema(keys: readonly string[], letters: readonly string[]) {
  return memo(`${keys.join(',')}|${letters.join(',')}`, () => {
    const rating = z.number().int().min(AGREEMENT.min).max(AGREEMENT.max);
    const perMember = z.strictObject(Object.fromEntries(letters.map((l) => [l, rating])));
    const schema = z.strictObject({
      ratings: z.strictObject(Object.fromEntries(keys.map((k) => [k, perMember]))),
    });
    const rated = (r: unknown) => exactly(r, letters, isRating);
    const members = (m: unknown) => exactly(m, keys, rated);
    plainChecks.set(schema, (v) => exactly(v, ['ratings'], members));
    return schema;
  });
}

/**
 * The judge asks for the same few shapes over and over (K letters; m1..mB members), and
 * the same schema object lets the client reuse its JSON-schema conversion, which cost
 * more CPU per call than anything else of ours (see ModelClient.structured). Bounded: a
 * few hundred shapes at most (the largest K times the largest batch); the cap only
 * guards against a caller that invents keys.
 */
const schemas = new Map<string, z.ZodType>();
const MAX_MEMO = 2_048;
function memo<T extends z.ZodType>(key: string, make: () => T): T {
  const known = schemas.get(key);
  if (known) return known as T;
  const made = make();
  if (schemas.size >= MAX_MEMO) schemas.clear();
  schemas.set(key, made);
  return made;
}
export type BatchRatingsOutput = { ratings: Record<string, Record<string, number>> };
