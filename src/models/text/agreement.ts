import { NEGATED_PREFIX } from './analyze.js';
import { cosine, type SparseVector } from './tfidf.js';

/**
 * How much more a contradicted term weighs than a shared one. Both texts of a yes/no
 * pair share every topic word and differ in one verb; if the contradiction only
 * cancelled a shared word, "we should NOT adopt it" would still read as mostly agreeing
 * with "we should adopt it".
 */
export const CONTRADICTION_WEIGHT = 2;

function opposite(term: string): string {
  return term.startsWith(NEGATED_PREFIX)
    ? term.slice(NEGATED_PREFIX.length)
    : NEGATED_PREFIX + term;
}

/**
 * Lexical agreement of two unit vectors, in [-CONTRADICTION_WEIGHT, 1]: their cosine
 * minus CONTRADICTION_WEIGHT times the weight of the terms one affirms and the other
 * negates. A term that a text holds in both polarities ("let's not decide in the
 * abstract; decide with data") takes no side, so it contradicts nothing.
 */
export function agreement(a: SparseVector, b: SparseVector): number {
  let contradiction = 0;
  for (const [term, wb] of b) {
    const flipped = opposite(term);
    const wa = a.get(flipped);
    if (wa === undefined || a.has(term) || b.has(flipped)) continue;
    contradiction += wa * wb;
  }
  return cosine(a, b) - CONTRADICTION_WEIGHT * contradiction;
}
