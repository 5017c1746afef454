import { setMaxListeners } from 'node:events';
import { z } from 'zod';
import type { ApprovalMatrix, Candidate } from '../../domain/candidate.js';
import type { Log } from '../../domain/log.js';
import { createRng, shuffled } from '../../domain/random.js';
import {
  addUsage,
  type CallLedger,
  NO_USAGE,
  type ParticipantView,
  type PredictInput,
  type PredictResult,
  type RewardModel,
  type Usage,
} from '../ports.js';
import { CHARS_PER_TOKEN, type ModelClient } from './client.js';
import { ModelSetupError, RateLimitedError, TokenBudgetError } from './errors.js';
import { DEFAULT_PROMPT_BUDGET_TOKENS } from './large-group.js';
import {
  type JudgeBatchPrompt,
  judgeBatchMessages,
  judgeMessages,
  nonceFor,
  promptChars,
} from './prompts.js';
import {
  approvalFromAgreement,
  BATCH_RATINGS_SCHEMA_NAME,
  type BatchRatingsOutput,
  batchRatingsSchema,
  LETTERS,
  RATINGS_SCHEMA_NAME,
  type RatingsOutput,
  ratingsSchema,
} from './schemas.js';
import { settleWithin } from './settle.js';

const RememberedSchema = z.record(z.string(), z.number());

export interface LlmJudgeOptions {
  client: ModelClient;
  model: string;
  /**
   * Most members one call rates (LLM_JUDGE_BATCH); 1 = always one call per member. See
   * batchSizeFor for when batches are used.
   */
  batchSize?: number;
  /**
   * Largest batch prompt, in estimated tokens (LLM_PROMPT_BUDGET_TOKENS, as for the
   * generator): a batch whose members' words would pass it is split, down to one member
   * per call, so long opinions cannot make a prompt the model's context refuses.
   */
  promptBudgetTokens?: number;
  log: Log;
}

/** Members per call at most, unless set: 1,000 members at 32 in flight -> 91 calls. */
export const DEFAULT_JUDGE_BATCH = 12;

/** A member's ratings by candidate id, or why there are none. */
type MemberRatings =
  | { ratings: Record<string, number>; usage: Usage }
  | { failed: string; usage: Usage };

/**
 * The personalised reward model as a language-model judge: one call per member rates
 * every candidate at once (shuffled per member and lettered, against position bias) on
 * the studies' 7-point agreement scale, mapped evenly onto [0,1]. A round costs N calls,
 * not N x K. A member whose call fails after its retries is left out (null, "not
 * predicted"); the pipeline decides whether enough members remain.
 */
export class LlmJudgeRewardModel implements RewardModel {
  readonly name: string;

  constructor(private readonly options: LlmJudgeOptions) {
    this.name = `llm judge (${options.model})`;
  }

  async predict(input: PredictInput, signal?: AbortSignal): Promise<PredictResult> {
    signal?.throwIfAborted();
    if (input.candidates.length > LETTERS.length) {
      throw new Error(
        `the judge rates at most ${LETTERS.length} candidates at once, got ${input.candidates.length}`,
      );
    }
    const stop = new AbortController();
    const linked = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
    // Every waiting call listens on it; hundreds are expected in a large round, not a leak.
    setMaxListeners(0, linked);
    const batches = memberBatches(
      input.participants.length,
      this.batchSizeFor(input.participants.length),
      this.batchRoom(input),
    );
    // The client's limits (the global cap on requests in flight, the request rate) decide
    // how many calls run together. Calls are prepared only as places can come free: all
    // 84 batch prompts of 1,000 members built up front held the first request back by
    // ~40 ms, while the ones past the first wave can be built while it is in flight.
    const batched = await settleWithin(
      batches,
      Math.max(1, this.options.client.policy.concurrency),
      (indices) =>
        (indices.length === 1
          ? this.rate(
              input,
              input.participants[indices[0] as number] as ParticipantView,
              input.ledger,
              signal,
              linked,
            ).then((r) => [r])
          : this.rateBatch(input, indices, input.ledger, signal, linked)
        ).catch((error: unknown) => {
          // Every later call would hit the same wall: stop spending on them.
          if (
            error instanceof RateLimitedError ||
            error instanceof ModelSetupError ||
            error instanceof TokenBudgetError
          ) {
            stop.abort(error);
          }
          throw error;
        }),
    );
    // Back to one outcome per member, in the participants' order.
    const settled: PromiseSettledResult<MemberRatings>[] = new Array(input.participants.length);
    batched.forEach((b, bi) => {
      (batches[bi] ?? []).forEach((p, j) => {
        settled[p] =
          b.status === 'rejected'
            ? b
            : {
                status: 'fulfilled',
                // The batch's usage is counted once, on its first member.
                value: (b.value[j] ?? { failed: 'no rating', usage: NO_USAGE }) as MemberRatings,
              };
      });
    });
    signal?.throwIfAborted();
    // The error that stopped the others, rather than the aborts it caused.
    const fatal: unknown = stop.signal.aborted
      ? stop.signal.reason
      : settled.find((s): s is PromiseRejectedResult => s.status === 'rejected')?.reason;
    if (fatal instanceof TokenBudgetError) throw new TokenBudgetError(fatal.budget, 'scoring');
    if (fatal !== undefined) throw fatal;

    let usage = NO_USAGE;
    const approvals = input.candidates.map(() =>
      input.participants.map(() => null as number | null),
    );
    settled.forEach((s, p) => {
      if (s.status === 'rejected') return;
      const result = s.value;
      usage = addUsage(usage, result.usage);
      if ('failed' in result) {
        // The member's place in the round, never their id: an anonymous round's members
        // must not reach the logs.
        this.options.log.warn(
          { member: p + 1, of: input.participants.length, reason: result.failed },
          'judge call failed; member not predicted',
        );
        return;
      }
      input.candidates.forEach((c, ci) => {
        const rating = result.ratings[c.id];
        const row = approvals[ci];
        if (row && rating !== undefined) row[p] = approvalFromAgreement(rating);
      });
    });
    const matrix: ApprovalMatrix = {
      participants: input.participants.map((p) => p.id),
      candidates: input.candidates.map((c) => c.id),
      approvals,
    };
    return { matrix, usage, model: this.name };
  }

  /**
   * One member per call while the round's members fit in one wave of requests (the
   * client's concurrency, LLM_CONCURRENCY); above that, batches just large enough to
   * judge everyone in as few waves as batches of `batchSize` allow, and no larger: with
   * 1,000 members and 32 places, batches of 12 need 3 waves (84 calls), and so do
   * batches of 11 (91 calls), which are smaller. So small rounds keep the studies'
   * per-member prompt, and a large one pays fidelity only as far as it must.
   */
  batchSizeFor(members: number): number {
    const most = Math.max(1, Math.floor(this.options.batchSize ?? DEFAULT_JUDGE_BATCH));
    const wave = Math.max(1, this.options.client.policy.concurrency);
    const waves = Math.max(1, Math.ceil(members / (wave * most)));
    return Math.min(most, Math.max(1, Math.ceil(members / (waves * wave))));
  }

  /**
   * Each member's estimated share of a batch prompt and the room the budget leaves for
   * them: the prompt less its members, and one member's wrapping measured once, with
   * their own words counted as the client counts characters.
   */
  private batchRoom(input: PredictInput): { cost: (p: number) => number; room: number } {
    const budget = this.options.promptBudgetTokens ?? DEFAULT_PROMPT_BUDGET_TOKENS;
    const statements = input.candidates.map((c, i) => ({
      letter: LETTERS[i] as string,
      text: c.text,
    }));
    const prompt = (members: JudgeBatchPrompt['members']) =>
      promptChars(
        judgeBatchMessages({ question: input.question, members, statements, nonce: 'n' }),
      );
    const bare = prompt([]);
    const wrapping = prompt([{ key: 'm100', opinion: '', critique: '' }]) - bare;
    return {
      cost: (p) => {
        const member = input.participants[p] as ParticipantView;
        return wrapping + member.opinion.length + (member.critique?.length ?? 0);
      },
      room: budget * CHARS_PER_TOKEN - bare,
    };
  }

  /**
   * Several members in one call, sharing one candidate order (seeded per batch). A member
   * whose ratings this run already paid for is not asked again; a failed call leaves
   * every member of the batch unpredicted.
   */
  private async rateBatch(
    input: PredictInput,
    indices: readonly number[],
    ledger: CallLedger | undefined,
    signal: AbortSignal | undefined,
    beforeSending: AbortSignal,
  ): Promise<MemberRatings[]> {
    const results: (MemberRatings | undefined)[] = indices.map(() => undefined);
    const ask: { at: number; member: ParticipantView; key: string }[] = [];
    // All of the batch's look-ups at once: one after another they were a Redis round
    // trip each on the way to the call, for every batch of a round.
    const recalled = await Promise.all(
      indices.map((p) =>
        ledger?.recall(`member-${input.seed}-${(input.participants[p] as ParticipantView).id}`),
      ),
    );
    for (const [at, p] of indices.entries()) {
      const member = input.participants[p] as ParticipantView;
      if (member.opinion.trim() === '' && (member.critique ?? '').trim() === '') {
        results[at] = { failed: 'the member wrote nothing to judge from', usage: NO_USAGE };
        continue;
      }
      const remembered = recalled[at];
      const parsed = remembered ? RememberedSchema.safeParse(JSON.parse(remembered)) : null;
      if (parsed?.success) results[at] = { ratings: parsed.data, usage: NO_USAGE };
      else ask.push({ at, member, key: `m${ask.length + 1}` });
    }
    if (ask.length > 0) {
      const order: Candidate[] = shuffled(
        input.candidates,
        createRng(`judge-batch:${input.seed}:${ask[0]?.member.id}`),
      );
      const statements = order.map((c, i) => ({ letter: LETTERS[i] as string, text: c.text }));
      const letters = statements.map((s) => s.letter);
      const keys = ask.map((a) => a.key);
      const outcome = await this.options.client.structured<BatchRatingsOutput>(
        {
          model: this.options.model,
          schemaName: BATCH_RATINGS_SCHEMA_NAME,
          schema: batchRatingsSchema(keys, letters),
          messages: judgeBatchMessages({
            question: input.question,
            members: ask.map((a) => ({
              key: a.key,
              opinion: a.member.opinion.trim(),
              critique: a.member.critique?.trim() || null,
            })),
            statements,
            nonce: nonceFor(input.seed, `judge-batch:${ask[0]?.member.id}`),
          }),
          maxTokens: 32 + ask.length * (16 + 10 * letters.length),
          temperature: 0,
        },
        ledger,
        signal,
        beforeSending,
      );
      const remembering: Promise<void>[] = [];
      for (const [j, a] of ask.entries()) {
        // The call's usage is reported once, with the first member asked.
        const usage = j === 0 ? outcome.usage : NO_USAGE;
        if (!outcome.ok) {
          results[a.at] = { failed: outcome.reason, usage };
          continue;
        }
        const ratings: Record<string, number> = {};
        order.forEach((c, i) => {
          const rating = outcome.value.ratings[a.key]?.[letters[i] as string];
          if (rating !== undefined) ratings[c.id] = rating;
        });
        const remembered = ledger?.remember(
          `member-${input.seed}-${a.member.id}`,
          JSON.stringify(ratings),
        );
        if (remembered) remembering.push(remembered);
        results[a.at] = { ratings, usage };
      }
      // Stored together, for the same reason as the look-ups above.
      await Promise.all(remembering);
    }
    return results.map((r) => r ?? { failed: 'no rating', usage: NO_USAGE });
  }

  private async rate(
    input: PredictInput,
    member: ParticipantView,
    ledger: CallLedger | undefined,
    signal: AbortSignal | undefined,
    beforeSending: AbortSignal,
  ): Promise<MemberRatings> {
    if (member.opinion.trim() === '' && (member.critique ?? '').trim() === '') {
      return { failed: 'the member wrote nothing to judge from', usage: NO_USAGE };
    }
    const key = `member-${input.seed}-${member.id}`;
    const remembered = await ledger?.recall(key);
    if (remembered) {
      const parsed = RememberedSchema.safeParse(JSON.parse(remembered));
      if (parsed.success) return { ratings: parsed.data, usage: NO_USAGE };
    }

    const order: Candidate[] = shuffled(
      input.candidates,
      createRng(`judge:${input.seed}:${member.id}`),
    );
    const statements = order.map((c, i) => ({ letter: LETTERS[i] as string, text: c.text }));
    const letters = statements.map((s) => s.letter);
    const outcome = await this.options.client.structured<RatingsOutput>(
      {
        model: this.options.model,
        schemaName: RATINGS_SCHEMA_NAME,
        schema: ratingsSchema(letters),
        messages: judgeMessages({
          question: input.question,
          opinion: member.opinion.trim(),
          critique: member.critique?.trim() || null,
          statements,
          nonce: nonceFor(input.seed, `judge:${member.id}`),
        }),
        maxTokens: 32 + 10 * letters.length,
        temperature: 0,
      },
      ledger,
      signal,
      beforeSending,
    );
    if (!outcome.ok) return { failed: outcome.reason, usage: outcome.usage };
    const ratings: Record<string, number> = {};
    order.forEach((c, i) => {
      const rating = outcome.value.ratings[letters[i] as string];
      if (rating !== undefined) ratings[c.id] = rating;
    });
    await ledger?.remember(key, JSON.stringify(ratings));
    return { ratings, usage: outcome.usage };
  }
}

/**
 * Member indices in order, cut into consecutive batches of at most `size` whose members'
 * costs add up to at most `budget.room` (a member who alone passes it is a batch alone).
 */
export function memberBatches(
  count: number,
  size: number,
  budget: { cost: (member: number) => number; room: number } = {
    cost: () => 0,
    room: Number.POSITIVE_INFINITY,
  },
): number[][] {
  const out: number[][] = [];
  let batch: number[] = [];
  let used = 0;
  for (let i = 0; i < count; i++) {
    const cost = budget.cost(i);
    // A member who alone passes the room still gets a call of their own.
    if (batch.length === size || (batch.length > 0 && used + cost > budget.room)) {
      out.push(batch);
      batch = [];
      used = 0;
    }
    batch.push(i);
    used += cost;
  }
  if (batch.length > 0) out.push(batch);
  return out;
}
