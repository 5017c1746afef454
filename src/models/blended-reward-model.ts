import type { ApprovalMatrix } from '../domain/candidate.js';
import { type Log, silentLog } from '../domain/log.js';
import { type Learner, learnInProcess } from './learned/learn.js';
import type { LearnedInput } from './learned/model.js';
import type { PredictInput, PredictResult, RewardModel } from './ports.js';

/**
 * The configured reward model (LLM judge, embedding or lexical), blended with the model
 * learned from the workspace's real ratings once there are enough of them.
 *
 * Per member the learned prediction weighs `maxWeight * n / (n + memberShrink)`, n being
 * that member's ratings so far: a member who never rated anything keeps the base model's
 * number (the learned model only knows the workspace's average for them), and even a
 * prolific rater keeps the base model at half weight or more, because a round's
 * candidates are always statements nobody rated (the cold-start case, task D of
 * ../shared/EVAL.md, where the learned model's AUC is 0.64-0.74 on five of the six
 * shared conversations and below chance, 0.45, on the sixth: informative, not decisive),
 * while the base model reads the candidate against this round's opinion.
 */
export interface BlendOptions {
  /** Below this many ratings in the workspace the base model is used alone. */
  minRatings: number;
  /** The learned model's weight for a member with very many ratings. */
  maxWeight?: number;
  /** Ratings at which a member's learned weight is half of `maxWeight`. */
  memberShrink?: number;
  /**
   * Fit on the workspace's latest this many statements only (0 = all): a fit's time and
   * memory grow with the matrix, and every round pays for one.
   */
  maxStatements?: number;
  /** Where the fit runs: this thread by default; the service's workers pass a worker thread's (src/app/learn-thread.ts). */
  learn?: Learner;
  /** Where a fit that failed is reported (the round is then scored by the base model alone). */
  log?: Log;
}

export const DEFAULT_MAX_LEARNED_WEIGHT = 0.5;
export const DEFAULT_MEMBER_SHRINK = 3;

/** Candidate ids share the learned model's id space with stored statements; this keeps them apart. */
const CANDIDATE_PREFIX = 'candidate:';

export class BlendedRewardModel implements RewardModel {
  /**
   * The configured model's name: whether a round's numbers were blended depends on the
   * workspace, so each result's `model` says it, not the process-wide name.
   */
  readonly name: string;

  constructor(
    private readonly base: RewardModel,
    private readonly options: BlendOptions,
  ) {
    this.name = base.name;
  }

  async predict(input: PredictInput, signal?: AbortSignal): Promise<PredictResult> {
    const history = input.history;
    // The count is a round trip that need not hold up the base model's first call; the
    // base model is still awaited whole, so a failed count never leaves calls running.
    const counting = history ? history.count() : Promise.resolve(0);
    counting.catch(() => undefined);
    const result = await this.base.predict(input, signal);
    const count = await counting;
    if (!history || count < this.options.minRatings || input.candidates.length === 0) {
      return result;
    }
    const log = this.options.log ?? silentLog;
    let data: LearnedInput;
    try {
      data = await history.load({ maxStatements: this.options.maxStatements ?? 0 });
    } catch (err) {
      // Stored ratings that no longer read (corrupt or foreign data, which the store's
      // schemas reject) would otherwise fail every round of the workspace, retry after
      // retry: the round is scored by the base model, and the log says why.
      if (signal?.aborted) throw err;
      log.warn(
        { err, stored: count },
        "the workspace's ratings matrix could not be read; scoring with the base model alone",
      );
      return result;
    }
    const ratings = data.ratings.length;
    // No rating at all (LEARNED_MIN_RATINGS=0 in a new workspace): nothing to learn, and
    // the results must not name a blend that changed no number.
    if (ratings === 0 || ratings < this.options.minRatings) {
      log.debug(
        { ratings, stored: count, maxStatements: this.options.maxStatements },
        'too few ratings among the latest statements to learn from',
      );
      return result;
    }
    // Only members with ratings of their own get a learned share (see `blend`): when none
    // of this round's members has rated anything, the fit would change no number, and the
    // results must not say the learned model predicted the approvals.
    const raters = new Set(data.ratings.map((r) => r.member));
    if (!result.matrix.participants.some((p) => raters.has(p))) {
      log.debug({ ratings }, "none of the round's members has rated yet: nothing to blend");
      return result;
    }
    let matrix: ApprovalMatrix;
    try {
      matrix = await this.blend(result.matrix, input, data, signal);
    } catch (err) {
      // The blend refines numbers the base model has already paid for: a fit that fails
      // (out of memory, a thread that cannot start, the process shutting down) costs the
      // round its refinement, not its scores. A cancelled call is still cancelled.
      if (signal?.aborted) throw err;
      log.warn(
        { err, ratings },
        'the learned model could not be fitted; scoring with the base model alone',
      );
      return result;
    }
    return {
      ...result,
      matrix,
      model: `${result.model} blended with learned (${ratings} ratings)`,
    };
  }

  private async blend(
    matrix: ApprovalMatrix,
    input: PredictInput,
    data: LearnedInput,
    signal: AbortSignal | undefined,
  ): Promise<ApprovalMatrix> {
    const maxWeight = this.options.maxWeight ?? DEFAULT_MAX_LEARNED_WEIGHT;
    const shrink = this.options.memberShrink ?? DEFAULT_MEMBER_SHRINK;
    const opinionOf = new Map(input.participants.map((p) => [p.id, p.opinion]));
    // A member's words: their earlier opinions and this round's, so text similarity sees both.
    const members = data.members.map((m) => {
      const now = opinionOf.get(m.id);
      opinionOf.delete(m.id);
      return { id: m.id, text: [m.text ?? '', now ?? ''].filter((t) => t !== '').join('\n') };
    });
    for (const [id, opinion] of opinionOf) members.push({ id, text: opinion });
    const learn = this.options.learn ?? learnInProcess;
    const learned = await learn(
      {
        input: {
          members,
          statements: [
            ...data.statements,
            ...input.candidates.map((c) => ({ id: `${CANDIDATE_PREFIX}${c.id}`, text: c.text })),
          ],
          ratings: data.ratings,
        },
        members: [...matrix.participants],
        statements: matrix.candidates.map((id) => `${CANDIDATE_PREFIX}${id}`),
      },
      signal,
    );
    const rated = new Map<string, number>();
    for (const r of data.ratings) rated.set(r.member, (rated.get(r.member) ?? 0) + 1);
    const approvals = matrix.approvals.map((row, c) =>
      row.map((base, p) => {
        const member = matrix.participants[p];
        const n = member === undefined ? 0 : (rated.get(member) ?? 0);
        if (base === null || member === undefined || n === 0) return base;
        const weight = (maxWeight * n) / (n + shrink);
        const prediction = learned.approvals[c]?.[p] ?? base;
        return clamp01((1 - weight) * base + weight * prediction);
      }),
    );
    // The opinion groups learned from the workspace's ratings, for bridging welfare.
    return { ...matrix, approvals, groups: learned.groups };
  }
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0.5;
}
