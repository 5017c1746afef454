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
    return z.strictObject({
      ratings: z.strictObject(Object.fromEntries(letters.map((l) => [l, rating]))),
    });
  });
}
export type RatingsOutput = { ratings: Record<string, number> };

export const BATCH_RATINGS_SCHEMA_NAME = 'approval_ratings_batch';

/** One strict ratings object per member key: a missing or extra member or letter fails. */
export function batchRatingsSchema(keys: readonly string[], letters: readonly string[]) {
  return memo(`${keys.join(',')}|${letters.join(',')}`, () => {
    const rating = z.number().int().min(AGREEMENT.min).max(AGREEMENT.max);
    const perMember = z.strictObject(Object.fromEntries(letters.map((l) => [l, rating])));
    return z.strictObject({
      ratings: z.strictObject(Object.fromEntries(keys.map((k) => [k, perMember]))),
    });
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
