import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import {
  type ClusterSummary,
  embeddingVectors,
  type FittedSummaries,
  lexicalVectors,
  summariseWithin,
  type Vectors,
} from '../cluster/clusters.js';
import { addUsage, type CallLedger, NO_USAGE, type Usage } from '../ports.js';
import { estimateTokens, type ModelClient } from './client.js';
import { ModelSetupError, PromptBudgetError, TokenBudgetError } from './errors.js';
import {
  generationMessages,
  type PromptGroup,
  promptChars,
  summaryGenerationMessages,
} from './prompts.js';

/** LLM_PROMPT_BUDGET_TOKENS unless set: a generation prompt, estimated at 3 characters a token. */
export const DEFAULT_PROMPT_BUDGET_TOKENS = 6_000;

/** At most this many clusters: more would leave too little room for quotes at the default budget. */
export const MAX_CLUSTERS = 16;

/** Texts per embeddings request (servers cap inputs per request; OpenAI at 2,048). */
const EMBED_CHUNK = 256;

export interface PromptInputs {
  question: string;
  opinions: readonly string[];
  critiques: readonly string[];
  previous: string | null;
  wordBudget: number;
  nonce: string;
}

/** How every sample's prompt is built for one round. */
export type PromptPlan =
  | { kind: 'verbatim'; estimate: number }
  | {
      kind: 'summaries';
      estimate: number;
      /** What all opinions verbatim would have cost. */
      verbatimEstimate: number;
      opinions: FittedSummaries;
      critiques: FittedSummaries | null;
      basis: string;
      usage: Usage;
    };

export function toPromptGroup(s: ClusterSummary): PromptGroup {
  return { members: s.size, percent: s.percent, terms: s.terms, quotes: s.quotes };
}

export function summaryMessages(
  p: PromptInputs,
  opinions: readonly PromptGroup[],
  critiques: readonly PromptGroup[],
): ChatCompletionMessageParam[] {
  return summaryGenerationMessages({
    question: p.question,
    groups: opinions,
    totalMembers: p.opinions.length,
    previous: p.previous,
    critiqueGroups: critiques,
    wordBudget: p.wordBudget,
    nonce: p.nonce,
  });
}

export function estimateOf(messages: readonly ChatCompletionMessageParam[]): number {
  return estimateTokens(promptChars(messages));
}

export interface PlanOptions {
  budgetTokens: number;
  seed: number;
  /** Cluster on this model's embeddings; lexical vectors when absent or when it fails. */
  embed?: { client: ModelClient; model: string; ledger: CallLedger | undefined } | undefined;
  /**
   * Fewest texts worth an embeddings call (LLM_EMBED_CLUSTERING_MIN); fewer are clustered
   * on word vectors. The call is a full model round trip before generation can start (a
   * third of the time to a statement at 100 members), and below a few hundred opinions
   * it buys little: the richest summary shape quotes up to 48 opinions verbatim (about
   * half of 100, a sixth of 300), so the grouping decides less of what the model reads
   * than at 1,000, where each cluster stands for ~60 members and only embeddings group
   * paraphrases together. 0 or absent = embeddings whenever `embed` is set.
   */
  embedMin?: number | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * Every opinion verbatim when that fits the budget; otherwise clusters of opinions (and
 * critiques) summarised with their sizes and verbatim quotes, the richest summaries that
 * fit. No opinion is dropped: each is counted in exactly one cluster.
 */
export async function planPrompt(p: PromptInputs, options: PlanOptions): Promise<PromptPlan> {
  const verbatimEstimate = estimateOf(
    generationMessages({
      question: p.question,
      opinions: p.opinions,
      previous: p.previous,
      critiques: p.critiques,
      wordBudget: p.wordBudget,
      nonce: p.nonce,
    }),
  );
  const budget = options.budgetTokens;
  if (budget <= 0 || verbatimEstimate <= budget)
    return { kind: 'verbatim', estimate: verbatimEstimate };
  // The barest summaries (each list as one group, sizes only) are the floor of every
  // shape tried below. Checked first, so that a prompt that can never fit costs no
  // embeddings call and no clustering, and is refused rather than sent over the budget.
  const bare = (texts: readonly string[]): PromptGroup[] =>
    texts.length === 0 ? [] : [{ members: texts.length, percent: 100, terms: [], quotes: [] }];
  const floor = estimateOf(summaryMessages(p, bare(p.opinions), bare(p.critiques)));
  if (floor > budget) throw new PromptBudgetError(floor, budget);

  let usage = NO_USAGE;
  let basis = options.embed
    ? `word (TF-IDF) vectors (fewer than ${options.embedMin ?? 0} texts: no embeddings call, LLM_EMBED_CLUSTERING_MIN)`
    : 'word (TF-IDF) vectors';
  const vectorsOf = async (texts: readonly string[]): Promise<Vectors> => {
    if (options.embed && texts.length > 0 && texts.length >= (options.embedMin ?? 0)) {
      const got = await embedAll(options.embed, texts, options.signal);
      usage = addUsage(usage, got.usage);
      if (got.rows) {
        basis = `embeddings (${options.embed.model})`;
        return embeddingVectors(got.rows);
      }
      basis = `word (TF-IDF) vectors, as the embeddings call failed (${got.reason})`;
    }
    return lexicalVectors(texts);
  };

  const opinionVectors = await vectorsOf(p.opinions);
  const critiqueVectors = p.critiques.length > 0 ? await vectorsOf(p.critiques) : null;
  // Critiques, when there are any, get room in proportion to their length (at least 15%).
  const oChars = p.opinions.reduce((n, t) => n + t.length, 0);
  const cChars = p.critiques.reduce((n, t) => n + t.length, 0);
  const opinionShare = critiqueVectors
    ? Math.min(0.85, Math.max(0.5, oChars / (oChars + cChars)))
    : 1;
  const opinions = summariseWithin(
    p.opinions,
    opinionVectors,
    `opinions:${options.seed}`,
    (s) => estimateOf(summaryMessages(p, s.map(toPromptGroup), [])) <= budget * opinionShare,
    MAX_CLUSTERS,
  );
  const opinionGroups = opinions.summaries.map(toPromptGroup);
  const critiques = critiqueVectors
    ? summariseWithin(
        p.critiques,
        critiqueVectors,
        `critiques:${options.seed}`,
        (s) => estimateOf(summaryMessages(p, opinionGroups, s.map(toPromptGroup))) <= budget,
        MAX_CLUSTERS,
      )
    : null;
  const estimate = estimateOf(
    summaryMessages(p, opinionGroups, critiques?.summaries.map(toPromptGroup) ?? []),
  );
  // summariseWithin hands back its last shape even when that does not fit; the floor
  // above makes that unlikely, and this makes it impossible to send.
  if (estimate > budget) throw new PromptBudgetError(estimate, budget);
  return { kind: 'summaries', estimate, verbatimEstimate, opinions, critiques, basis, usage };
}

async function embedAll(
  embed: NonNullable<PlanOptions['embed']>,
  texts: readonly string[],
  signal: AbortSignal | undefined,
): Promise<{ rows: number[][] | null; usage: Usage; reason: string }> {
  const chunks: string[][] = [];
  for (let i = 0; i < texts.length; i += EMBED_CHUNK) chunks.push(texts.slice(i, i + EMBED_CHUNK));
  let outcomes: Awaited<ReturnType<ModelClient['embed']>>[];
  try {
    outcomes = await Promise.all(
      chunks.map((chunk) => embed.client.embed(embed.model, chunk, embed.ledger, signal)),
    );
  } catch (error) {
    // A server without that embeddings model (404) or a spent budget still gets a
    // statement, clustered on words; a 429 goes back to the queue like any other.
    if (error instanceof ModelSetupError || error instanceof TokenBudgetError) {
      return { rows: null, usage: NO_USAGE, reason: error.message };
    }
    throw error;
  }
  let usage = NO_USAGE;
  const rows: number[][] = [];
  for (const o of outcomes) {
    usage = addUsage(usage, o.usage);
    if (!o.ok) return { rows: null, usage, reason: o.reason };
    rows.push(...o.value);
  }
  return { rows, usage, reason: '' };
}

/** The note the results carry: the statement was written from summaries, and how. */
export function summaryNote(
  plan: Extract<PromptPlan, { kind: 'summaries' }>,
  budget: number,
): string {
  const sizes = plan.opinions.summaries.map((s) => s.size);
  const total = sizes.reduce((a, b) => a + b, 0);
  const shown = sizes.length > 8 ? `${sizes.slice(0, 8).join(', ')}, …` : sizes.join(', ');
  const critiques = plan.critiques
    ? `; the ${plan.critiques.summaries.reduce((a, s) => a + s.size, 0)} critiques likewise in ${counted(plan.critiques.summaries.length, 'cluster')}`
    : '';
  const quotes = plan.opinions.shape.quotes;
  // A budget that leaves room for no quote gives sizes and summaries alone.
  const given =
    quotes > 0 ? `with its size and up to ${counted(quotes, 'verbatim quote')}` : 'with its size';
  return (
    `made from summaries: all ${total} opinions verbatim (~${thousands(plan.verbatimEstimate)} tokens) exceed the prompt budget ` +
    `(${thousands(budget)} tokens, LLM_PROMPT_BUDGET_TOKENS), so they were grouped on ${plan.basis} into ${counted(sizes.length, 'cluster')} ` +
    `of similar opinions (sizes ${shown}; every opinion counted in one), each given to the model ${given}${critiques}`
  );
}

/** "1 cluster", "3 clusters". */
function counted(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/**
 * 12345 -> "12,345", as toLocaleString('en-US') writes it: that builds an ICU number
 * formatter on first use in a process, ~5 ms of a fresh worker's first rounds.
 */
export function thousands(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
