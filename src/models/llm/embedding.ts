import type { ApprovalMatrix } from '../../domain/candidate.js';
import { NO_USAGE, type PredictInput, type PredictResult, type RewardModel } from '../ports.js';
import type { ModelClient } from './client.js';
import { TokenBudgetError } from './errors.js';

export interface EmbeddingRewardOptions {
  client: ModelClient;
  model: string;
}

/**
 * Steepness of the calibration: a candidate one standard deviation closer to a member
 * than the round's average pair gets ~0.82, one further ~0.18.
 */
export const EMBEDDING_SLOPE = 1.5;

/**
 * A cheap reward model: one batched embeddings call for every member's text and every
 * candidate, cosine similarity between them, calibrated to [0,1].
 *
 * Embeddings measure closeness of topic more than agreement, and their cosines sit in a
 * band that differs per embedding model (0.2-0.5 for one, 0.7-0.9 for another). So the
 * calibration is relative to the round: each cosine is standardised against all of the
 * round's member x candidate cosines and put through a logistic. That keeps each
 * member's ranking of the candidates (all Schulze and the egalitarian order use) and
 * spreads values across (0,1) whatever the model; it cannot tell a round where every
 * candidate is good from one where every candidate is bad.
 */
export class EmbeddingRewardModel implements RewardModel {
  readonly name: string;

  constructor(private readonly options: EmbeddingRewardOptions) {
    this.name = `embeddings (${options.model})`;
  }

  async predict(input: PredictInput, signal?: AbortSignal): Promise<PredictResult> {
    signal?.throwIfAborted();
    // Members' texts first, then candidates; each text is sent once.
    const texts: string[] = [];
    const indexOf = new Map<string, number>();
    const add = (text: string) => {
      const t = text.trim();
      if (t === '') return -1;
      const known = indexOf.get(t);
      if (known !== undefined) return known;
      texts.push(t);
      indexOf.set(t, texts.length - 1);
      return texts.length - 1;
    };
    const memberTexts = input.participants.map((p) =>
      [add(p.opinion), add(p.critique ?? '')].filter((i) => i >= 0),
    );
    const candidateTexts = input.candidates.map((c) => add(c.text));
    const matrix: ApprovalMatrix = {
      participants: input.participants.map((p) => p.id),
      candidates: input.candidates.map((c) => c.id),
      approvals: input.candidates.map(() => input.participants.map(() => null)),
    };
    if (texts.length === 0) return { matrix, usage: NO_USAGE, model: this.name };

    let outcome: Awaited<ReturnType<ModelClient['embed']>>;
    try {
      outcome = await this.options.client.embed(this.options.model, texts, input.ledger, signal);
    } catch (error) {
      if (error instanceof TokenBudgetError) throw new TokenBudgetError(error.budget, 'scoring');
      throw error;
    }
    if (!outcome.ok) throw new Error(`the embeddings call failed: ${outcome.reason}`);
    const vectors = outcome.value.map(unit);

    // A member's profile is their opinion and critique read together (equal weight).
    const profiles = memberTexts.map((ids) =>
      ids.length === 0 ? null : unit(sum(ids.map((i) => vectors[i] as number[]))),
    );
    const cosines = candidateTexts.map((ci) =>
      profiles.map((profile) =>
        profile === null || ci < 0 ? null : dot(profile, vectors[ci] as number[]),
      ),
    );
    const all = cosines.flat().filter((x): x is number => x !== null);
    const mean = all.reduce((a, b) => a + b, 0) / Math.max(1, all.length);
    const sd = Math.sqrt(all.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, all.length));
    matrix.approvals = cosines.map((row) =>
      row.map((x) => (x === null ? null : calibrateCosine(x, mean, sd))),
    );
    return { matrix, usage: outcome.usage, model: this.name };
  }
}

/** Logistic of the standardised cosine; 0.5 for everything when the round has no spread. */
export function calibrateCosine(x: number, mean: number, sd: number): number {
  if (!(sd > 1e-9)) return 0.5;
  return 1 / (1 + Math.exp((-EMBEDDING_SLOPE * (x - mean)) / sd));
}

function dot(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] ?? 0);
  return s;
}

function sum(vectors: readonly (readonly number[])[]): number[] {
  const out = new Array<number>(vectors[0]?.length ?? 0).fill(0);
  for (const v of vectors) {
    for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) + (v[i] ?? 0);
  }
  return out;
}

function unit(v: readonly number[]): number[] {
  const norm = Math.sqrt(dot(v, v));
  return norm === 0 ? [...v] : v.map((x) => x / norm);
}
