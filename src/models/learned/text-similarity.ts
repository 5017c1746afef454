import { contentTerms } from '../text/analyze.js';
import { cosine, type SparseVector, TfIdf } from '../text/tfidf.js';

/**
 * TF-IDF cosine between texts, fitted on every statement and member text at once, so
 * rare words shared by two statements (the topic's specifics) count most.
 */
export function textVectors(texts: readonly string[]): SparseVector[] {
  const terms = texts.map((t) => contentTerms(t));
  const tfidf = TfIdf.fit(terms);
  return terms.map((t) => tfidf.vector(t));
}

export { cosine };
