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
 * receives it (the "comment mean", a strong predictor of real votes). Without this,
 * every member whom no candidate quotes sits at the same floor, and the egalitarian
 * pick is decided by incidental overlaps of a word or two.
 */
export const GROUP_PRIOR = 0.3;

/**
 * Calibration of the score s = (1 - GROUP_PRIOR) * own + GROUP_PRIOR * group, where
 * own is the member's lexical agreement with the candidate (at most 1, negative when
 * the candidate negates what they wrote; see text/agreement.ts) and group the mean of
 * everyone's, to an approval: the logistic 1 / (1 + exp(-slope * (s - midpoint))).
 *
 * Anchors, from the offline scenarios' numbers:
 *   - the member's own opinion (own = 1, s ~ 0.73): ~0.97;
 *   - a composition quoting one of their sentences among three others (own ~ 0.45):
 *     ~0.7, "I can live with that";
 *   - a statement on the topic that shares a word or two (own ~ 0.1): ~0.25;
 *   - an unrelated statement (s = 0): ~0.15, low but not certain refusal, since having
 *     nothing in common is not the same as being against;
 *   - a statement that negates what they wrote (own < 0): below 0.1.
 * The logistic keeps every value strictly inside (0, 1) and is monotone, so the ranking
 * of candidates for a member (all that Schulze and the egalitarian order use) is the
 * ranking by s; the anchors only matter for absolute readings (utilitarian and Nash
 * welfare, "predicted approval" in the poll message, simulated members).
 */
export const CALIBRATION = { slope: 7, midpoint: 0.25 } as const;

/** Maps a score (see CALIBRATION) to a predicted approval in (0, 1). */
export function calibrate(score: number): number {
  return 1 / (1 + Math.exp(-CALIBRATION.slope * (score - CALIBRATION.midpoint)));
}

/**
 * The offline reward model: predicted approval rises with the lexical agreement
 * (TF-IDF over lemmas, stop words out, negation kept) between a candidate and what the
 * member wrote — their opinion and, in a critique round, their critique — shrunk a
 * little towards the group's. It misses paraphrase and stance not carried by negation
 * words, but it needs no network, costs nothing and is repeatable.
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
    const known = profiles.filter((p) => p.size > 0).length;
    const approvals = candidateTerms.map((terms) => {
      const candidate = space.vector(terms);
      const own = profiles.map((p) => agreement(p, candidate));
      const group = known === 0 ? 0 : own.reduce((a, b) => a + b, 0) / known;
      // A member who wrote nothing with content ("Yes.") gets the group's view alone.
      return own.map((a, i) =>
        calibrate(profiles[i]?.size === 0 ? group : (1 - GROUP_PRIOR) * a + GROUP_PRIOR * group),
      );
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
