import { NEGATED_PREFIX } from './analyze.js';
import { cosine, flipPolarity, type SparseVector } from './tfidf.js';

/**
 * Lexical agreement in [-1, 1]: what two texts say alike minus what one says and the
 * other negates. A bag of words alone scores "we should not adopt it" as close to "we
 * should adopt it"; subtracting the negated overlap turns that into disagreement.
 */
export function agreement(a: SparseVector, b: SparseVector): number {
  return cosine(a, b) - cosine(a, flipPolarity(b, NEGATED_PREFIX));
}
