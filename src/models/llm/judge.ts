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
import type { ModelClient } from './client.js';
import { ModelSetupError, RateLimitedError, TokenBudgetError } from './errors.js';
import { judgeMessages, nonceFor } from './prompts.js';
import {
  approvalFromAgreement,
  LETTERS,
  RATINGS_SCHEMA_NAME,
  type RatingsOutput,
  ratingsSchema,
} from './schemas.js';

const RememberedSchema = z.record(z.string(), z.number());

export interface LlmJudgeOptions {
  client: ModelClient;
  model: string;
  log: Log;
}

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
    const settled = await Promise.allSettled(
      input.participants.map((p) =>
        this.rate(input, p, input.ledger, linked).catch((error: unknown) => {
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
      ),
    );
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
        this.options.log.warn(
          { participantId: input.participants[p]?.id, reason: result.failed },
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

  private async rate(
    input: PredictInput,
    member: ParticipantView,
    ledger: CallLedger | undefined,
    signal: AbortSignal,
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
