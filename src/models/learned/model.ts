import { z } from 'zod';
import { type CoreOptions, DEFAULT_CORE_OPTIONS, LearnedCore } from './core.js';

/**
 * The learned reward model behind string ids: fit on a members x statements ratings
 * matrix (approvals in [0, 1]; a Polis vote v maps to (v + 1) / 2) with the statements'
 * texts and authors and the members' own words, then predict any member's approval of
 * any statement given at fit time — including statements nobody rated, from their text.
 */

export const LearnedInputSchema = z.object({
  members: z.array(z.object({ id: z.string().min(1), text: z.string().nullish() })),
  statements: z.array(
    z.object({
      id: z.string().min(1),
      text: z.string(),
      authorId: z.string().min(1).nullish(),
    }),
  ),
  ratings: z.array(
    z.object({
      member: z.string().min(1),
      statement: z.string().min(1),
      approval: z.number().min(0).max(1),
    }),
  ),
});
export type LearnedInput = z.infer<typeof LearnedInputSchema>;

export const LEARNED_MODEL_NAME =
  'learned (cross-fitted blend: factorisation, neighbours, opinion groups, text)';

export interface LearnedRewardModel {
  readonly name: string;
  /**
   * Approval in [0, 1]: the member's own rating when they rated the statement, else
   * the prediction. Throws for an id that was not given at fit time.
   */
  predict(memberId: string, statementId: string): number;
  /** approvals[statement][member], the layout of the RewardModel port's matrix. */
  predictMatrix(memberIds: readonly string[], statementIds: readonly string[]): number[][];
  /** Whether the statement had ratings at fit time (else the prediction is from text). */
  isRated(statementId: string): boolean;
  /**
   * Bridging score for selection (higher is better): group-informed consensus over
   * opinion groups learned from the ratings; comparable between statements of one fit.
   */
  consensus(statementId: string): number;
  /**
   * The member's opinion group learned from the ratings (0..n-1 over the groups large
   * enough to bridge), or -1 when they are in none.
   */
  groupOf(memberId: string): number;
}

export function fitLearnedModel(
  raw: LearnedInput,
  options: CoreOptions = DEFAULT_CORE_OPTIONS,
): LearnedRewardModel {
  const input = LearnedInputSchema.parse(raw);
  const memberIndex = indexIds(
    input.members.map((m) => m.id),
    'member',
  );
  const statementIndex = indexIds(
    input.statements.map((s) => s.id),
    'statement',
  );
  const lookup = (index: Map<string, number>, id: string, kind: string) => {
    const i = index.get(id);
    if (i === undefined) throw new Error(`Unknown ${kind} id "${id}"`);
    return i;
  };
  const member = new Int32Array(input.ratings.length);
  const statement = new Int32Array(input.ratings.length);
  const value = new Float64Array(input.ratings.length);
  input.ratings.forEach((r, i) => {
    member[i] = lookup(memberIndex, r.member, 'member');
    statement[i] = lookup(statementIndex, r.statement, 'statement');
    value[i] = r.approval;
  });
  const core = new LearnedCore(
    {
      ratings: {
        members: input.members.length,
        statements: input.statements.length,
        member,
        statement,
        value,
      },
      statementTexts: input.statements.map((s) => s.text),
      statementAuthors: input.statements.map((s) =>
        s.authorId == null ? -1 : (memberIndex.get(s.authorId) ?? -1),
      ),
      memberTexts: input.members.map((m) => m.text ?? ''),
    },
    options,
  );
  const predict = (memberId: string, statementId: string) =>
    core.predict(
      lookup(memberIndex, memberId, 'member'),
      lookup(statementIndex, statementId, 'statement'),
    );
  return {
    name: LEARNED_MODEL_NAME,
    predict,
    predictMatrix: (memberIds, statementIds) =>
      statementIds.map((s) => memberIds.map((m) => predict(m, s))),
    isRated: (statementId) => core.isRated(lookup(statementIndex, statementId, 'statement')),
    consensus: (statementId) => core.consensus(lookup(statementIndex, statementId, 'statement')),
    groupOf: (memberId) => core.groupOf(lookup(memberIndex, memberId, 'member')),
  };
}

function indexIds(ids: readonly string[], kind: string): Map<string, number> {
  const index = new Map<string, number>();
  for (const id of ids) {
    if (index.has(id)) throw new Error(`Duplicate ${kind} id "${id}"`);
    index.set(id, index.size);
  }
  return index;
}
