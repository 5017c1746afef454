import type { ApprovalMatrix } from '../../domain/candidate.js';
import { NO_USAGE, type PredictInput, type PredictResult, type RewardModel } from '../ports.js';
import { agreement } from '../text/agreement.js';
import { contentTerms } from '../text/analyze.js';
import { normalise, type SparseVector, TfIdf, weightedSum } from '../text/tfidf.js';

/**
 * How much a critique counts against the whole opinion in a member's profile. A
 * critique is short and says exactly what the member wants changed, so it weighs as
 * much as everything else they wrote.
 */
export const CRITIQUE_WEIGHT = 1;

/**
 * Share of each prediction taken from the group's mean agreement with the candidate.
 * Word overlap only sees what a member wrote; about a statement that shares none of
 * their words it knows nothing, and then the best guess is how the group as a whole
 * receives it (the "comment mean", a strong predictor of real votes). Without this, the
 * members nobody's words reach tie at the floor and decide the egalitarian pick by
 * incidental overlaps of a word or two.
 */
export const GROUP_PRIOR = 0.3;

/**
 * Calibration from TF-IDF cosine to approval: a logistic
 *
 *     approval = 1 / (1 + exp(-SLOPE * (cosine - MIDPOINT)))
 *
 * anchored on what cosines mean here: 1 is the member's own words (approval ~0.99);
 * about 0.35-0.45 is a statement that carries one of their sentences among others'
 * (~0.65-0.8, "I can live with that"); about 0.1 is a statement that only shares the
 * topic (~0.2); 0 is unrelated (~0.08). See calibrate() for the numbers.
 */
export const CALIBRATION = { slope: 7, midpoint: 0.25 } as const;

/** Maps a cosine in [0, 1] to a predicted approval in (0, 1). */
export function calibrate(similarity: number): number {
  return 1 / (1 + Math.exp(-CALIBRATION.slope * (similarity - CALIBRATION.midpoint)));
}

/**
 * The offline reward model: predicted approval rises with the lexical overlap (lemmas,
 * stop words out, negation kept) between a candidate and what the member wrote — their
 * opinion and, in a critique round, their critique. It cannot tell irony or stance
 * without negation words, but it needs no network, costs nothing and is repeatable.
 */
export class LexicalRewardModel implements RewardModel {
  readonly name = 'lexical-tfidf';

  async predict(input: PredictInput, signal?: AbortSignal): Promise<PredictResult> {
    signal?.throwIfAborted();
    const opinionTerms = input.participants.map((p) => contentTerms(p.opinion));
    const critiqueTerms = input.participants.map((p) =>
      p.critique === null ? [] : contentTerms(p.critique),
    );
    const candidateTerms = input.candidates.map((c) => contentTerms(c.text));
    // idf from this round only: a word everybody used (usually the question's) says
    // little about who agrees with what, whatever its frequency in English at large.
    const space = TfIdf.fit([
      ...opinionTerms,
      ...critiqueTerms.filter((t) => t.length > 0),
      ...candidateTerms,
    ]);
    const profiles = input.participants.map((_, i) =>
      profile(space.vector(opinionTerms[i] ?? []), space.vector(critiqueTerms[i] ?? [])),
    );
    const candidateVectors = candidateTerms.map((terms) => space.vector(terms));
    const approvals = candidateVectors.map((c) => {
      const own = profiles.map((p) => agreement(p, c));
      const group = own.length === 0 ? 0 : own.reduce((a, b) => a + b, 0) / own.length;
      return own.map((a) => calibrate((1 - GROUP_PRIOR) * a + GROUP_PRIOR * group));
    });
    const matrix: ApprovalMatrix = {
      participants: input.participants.map((p) => p.id),
      candidates: input.candidates.map((c) => c.id),
      approvals,
    };
    return { matrix, usage: NO_USAGE, model: this.name };
  }
}

function profile(opinion: SparseVector, critique: SparseVector): SparseVector {
  if (critique.size === 0) return opinion;
  return normalise(weightedSum(opinion, 1, critique, CRITIQUE_WEIGHT));
}
