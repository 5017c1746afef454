import { setMaxListeners } from 'node:events';
import type { Candidate } from '../../domain/candidate.js';
import { LIMITS } from '../../domain/limits.js';
import type { Log } from '../../domain/log.js';
import { createRng, shuffled } from '../../domain/random.js';
import {
  addUsage,
  type CallLedger,
  type GenerateInput,
  type GenerateResult,
  type Generator,
  NO_USAGE,
  type ParticipantView,
  type Usage,
} from '../ports.js';
import type { CallOutcome, ModelClient } from './client.js';
import {
  ModelSetupError,
  NoUsableOutputError,
  RateLimitedError,
  TokenBudgetError,
} from './errors.js';
import {
  DEFAULT_PROMPT_BUDGET_TOKENS,
  type PromptPlan,
  planPrompt,
  summaryMessages,
  summaryNote,
  toPromptGroup,
} from './large-group.js';
import { generationMessages, nonceFor } from './prompts.js';
import {
  checkStatement,
  STATEMENT_SCHEMA_NAME,
  type StatementOutput,
  StatementOutputSchema,
} from './schemas.js';
import { settleWithin } from './settle.js';

export const DEFAULT_WORD_BUDGET = 120;

export interface LlmGeneratorOptions {
  client: ModelClient;
  model: string;
  /** Longest statement accepted, in words; a longer one is unusable output. */
  wordBudget?: number;
  /** Some spread between samples on top of the shuffles. */
  temperature?: number;
  /**
   * Largest generation prompt, in estimated tokens (LLM_PROMPT_BUDGET_TOKENS); above it
   * the opinions are clustered and summarised. 0 = no limit.
   */
  promptBudgetTokens?: number;
  /** Embeddings model to cluster a large group's opinions on; lexical vectors without. */
  embeddingModel?: string;
  /**
   * Fewest opinions (or critiques) clustered on embeddings (LLM_EMBED_CLUSTERING_MIN);
   * fewer are clustered on word vectors, see PlanOptions.embedMin. 0 = always embeddings.
   */
  embedClusteringMin?: number;
  log: Log;
}

type SampleResult =
  | { kind: 'statement'; text: string; usage: Usage }
  | { kind: 'dropped'; reason: string; usage: Usage; unusable: boolean }
  | { kind: 'unaffordable' };

/**
 * Candidate statements from a language model: K samples in parallel, each from the
 * opinions in a fresh seeded order (position bias differs per sample, and no member is
 * always first). Unusable output is retried, then that sample is dropped; the round
 * fails only when no sample survives.
 */
export class LlmGenerator implements Generator {
  readonly name: string;
  private readonly wordBudget: number;
  private readonly temperature: number;

  constructor(private readonly options: LlmGeneratorOptions) {
    this.name = `llm (${options.model})`;
    this.wordBudget = options.wordBudget ?? DEFAULT_WORD_BUDGET;
    this.temperature = options.temperature ?? 1;
  }

  async generate(input: GenerateInput, signal?: AbortSignal): Promise<GenerateResult> {
    signal?.throwIfAborted();
    const k = Math.min(LIMITS.maxCandidates, Math.max(1, Math.floor(input.k)));
    const members = input.participants.filter((p) => hasText(p.opinion) || hasText(p.critique));
    if (members.length === 0) return { candidates: [], usage: NO_USAGE, notes: [] };

    // One sample hitting a rate limit or a setup error stops its siblings that are not
    // sent yet: the job goes back to the queue (or fails) as a whole once the requests on
    // the wire are answered, and every call paid for is remembered.
    const stop = new AbortController();
    const linked = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
    // Every waiting call listens on it; hundreds are expected in a large round, not a leak.
    setMaxListeners(0, linked);
    const budget = this.options.promptBudgetTokens ?? DEFAULT_PROMPT_BUDGET_TOKENS;
    const plan = await planPrompt(
      {
        question: input.question,
        opinions: members.filter((p) => hasText(p.opinion)).map((p) => p.opinion.trim()),
        critiques:
          input.previous === null
            ? []
            : members.flatMap((p) => (hasText(p.critique) ? [(p.critique ?? '').trim()] : [])),
        previous: input.previous,
        wordBudget: this.wordBudget,
        nonce: nonceFor(input.seed, 'generate'),
      },
      {
        budgetTokens: budget,
        seed: input.seed,
        embed: this.options.embeddingModel
          ? {
              client: this.options.client,
              model: this.options.embeddingModel,
              ledger: input.ledger,
            }
          : undefined,
        embedMin: this.options.embedClusteringMin ?? 0,
        signal: linked,
      },
    );
    // Every sample is started at once (a turn of the event loop apart, see settleWithin);
    // the client's limits decide how many run together.
    const settled = await settleWithin(
      Array.from({ length: k }, (_, i) => i),
      k,
      (i) =>
        this.sample(input, members, plan, i, k, input.ledger, signal, linked).catch(
          (error: unknown) => {
            if (error instanceof RateLimitedError || error instanceof ModelSetupError) {
              stop.abort(error);
            }
            throw error;
          },
        ),
    );
    signal?.throwIfAborted();
    // The error that stopped the others, rather than the aborts it caused.
    if (stop.signal.aborted) throw stop.signal.reason;
    const fatal = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (fatal) throw fatal.reason;

    let usage = plan.kind === 'summaries' ? plan.usage : NO_USAGE;
    const candidates: Candidate[] = [];
    const dropped: string[] = [];
    /** Samples the server answered with output no retry made usable. */
    let unusableOutput = 0;
    let unaffordable = 0;
    const seen = new Set<string>();
    let duplicates = 0;
    settled.forEach((s, i) => {
      if (s.status === 'rejected') return;
      const result = s.value;
      if (result.kind === 'unaffordable') {
        unaffordable++;
        return;
      }
      usage = addUsage(usage, result.usage);
      if (result.kind === 'dropped') {
        dropped.push(result.reason);
        if (result.unusable) unusableOutput++;
        return;
      }
      const key = result.text.toLowerCase().replace(/\s+/g, ' ');
      if (seen.has(key)) {
        duplicates++;
        return;
      }
      seen.add(key);
      candidates.push({
        id: `c${i + 1}`,
        text: result.text,
        source: input.previous === null ? 'llm' : 'revision',
        explanation: `sample ${i + 1} of ${k} by ${this.options.model}, opinions in a fresh order`,
      });
    });

    const notes: string[] = [];
    if (plan.kind === 'summaries') notes.push(summaryNote(plan, budget));
    if (dropped.length > 0) {
      notes.push(
        `${dropped.length} of ${k} samples gave no usable statement and were dropped (${summarise(dropped)})`,
      );
    }
    if (duplicates > 0) notes.push(`${duplicates} samples repeated another word for word`);
    if (unaffordable > 0) {
      const budget = this.options.client.policy.roundTokenBudget;
      if (candidates.length === 0) throw new TokenBudgetError(budget);
      notes.push(
        `the round's token budget stopped generation: ${unaffordable} of ${k} samples were not written`,
      );
    }
    if (candidates.length === 0) {
      const message = `none of the ${k} samples gave a usable statement (${summarise(dropped)})`;
      // Every sample answered, each with output its retries could not make usable: the
      // job's next attempts would pay for all K again to the same end, so the run fails
      // now (the channel is told once; a moderator's close starts a new run). A sample
      // lost to the server (a 500, a timeout) leaves it to the job's attempts.
      if (unusableOutput === dropped.length) throw new NoUsableOutputError(message);
      throw new Error(message);
    }
    if (dropped.length > 0) {
      this.options.log.warn({ dropped: dropped.length, k }, 'generation samples dropped');
    }
    return { candidates, usage, notes };
  }

  private async sample(
    input: GenerateInput,
    members: readonly ParticipantView[],
    plan: PromptPlan,
    index: number,
    k: number,
    ledger: CallLedger | undefined,
    signal: AbortSignal | undefined,
    beforeSending: AbortSignal,
  ): Promise<SampleResult> {
    const key = `sample-${input.seed}-${index}`;
    const remembered = await ledger?.recall(key);
    if (remembered) {
      const parsed = StatementOutputSchema.safeParse(JSON.parse(remembered));
      if (parsed.success)
        return { kind: 'statement', text: parsed.data.statement, usage: NO_USAGE };
    }
    const rng = createRng(`generate:${input.seed}:${index}`);
    // A summary prompt shows clusters, not these lists (only how many opinions there
    // are), so only a verbatim prompt shuffles them: at 1,000 members that was K
    // shuffles of 1,000 opinions for nothing.
    const verbatim = plan.kind === 'verbatim';
    const opinionTexts = members.filter((p) => hasText(p.opinion)).map((p) => p.opinion.trim());
    const opinions = verbatim ? shuffled(opinionTexts, rng) : opinionTexts;
    const critiqueTexts =
      input.previous === null
        ? []
        : members.flatMap((p) => (hasText(p.critique) ? [(p.critique ?? '').trim()] : []));
    const critiques = verbatim ? shuffled(critiqueTexts, rng) : critiqueTexts;
    const prompt = {
      question: input.question,
      opinions,
      previous: input.previous,
      critiques,
      wordBudget: this.wordBudget,
      nonce: nonceFor(input.seed, 'generate'),
    };
    // A large group's clusters are shuffled per sample too, against position bias.
    const messages =
      plan.kind === 'verbatim'
        ? generationMessages(prompt)
        : summaryMessages(
            prompt,
            shuffled(plan.opinions.summaries.map(toPromptGroup), rng),
            shuffled(plan.critiques?.summaries.map(toPromptGroup) ?? [], rng),
          );
    let outcome: CallOutcome<StatementOutput>;
    try {
      outcome = await this.options.client.structured(
        {
          model: this.options.model,
          schemaName: STATEMENT_SCHEMA_NAME,
          schema: StatementOutputSchema,
          messages,
          // Room for the JSON around a statement at the budget, at ~1.5 tokens a word.
          maxTokens: Math.ceil(this.wordBudget * 2) + 64,
          temperature: this.temperature,
          check: (output) => checkStatement(output, this.wordBudget),
        },
        ledger,
        signal,
        beforeSending,
      );
    } catch (error) {
      if (isBudget(error)) return { kind: 'unaffordable' };
      throw error;
    }
    if (!outcome.ok) {
      this.options.log.debug(
        { sample: index + 1, k, reason: outcome.reason, tries: outcome.tries },
        'generation sample dropped',
      );
      return {
        kind: 'dropped',
        reason: outcome.reason,
        usage: outcome.usage,
        unusable: outcome.unusable,
      };
    }
    const text = outcome.value.statement.trim();
    await ledger?.remember(key, JSON.stringify({ statement: text }));
    return { kind: 'statement', text, usage: outcome.usage };
  }
}

function hasText(text: string | null): boolean {
  return (text ?? '').trim().length > 0;
}

function isBudget(error: unknown): boolean {
  return error instanceof TokenBudgetError;
}

/** "the output is not JSON x2; the request timed out" */
export function summarise(reasons: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const r of reasons) counts.set(r, (counts.get(r) ?? 0) + 1);
  return [...counts].map(([r, n]) => (n > 1 ? `${r} x${n}` : r)).join('; ');
}
