/**
 * TF-IDF vectors and cosine similarity over term lists (see analyze.ts).
 *
 * Weighting: sublinear term frequency (1 + ln tf), so a word repeated in a long rant
 * does not drown out the rest; smoothed idf ln((1 + N) / (1 + df)) + 1, so a term that
 * every document shares (usually the question's own words) still counts a little
 * instead of vanishing, and an unseen term gets the highest weight rather than
 * infinity. Vectors are L2-normalised, so cosine is a dot product and lies in [0, 1].
 */

/** Term -> weight; absent terms weigh zero. */
export type SparseVector = ReadonlyMap<string, number>;

export class TfIdf {
  private constructor(
    private readonly documentFrequency: ReadonlyMap<string, number>,
    private readonly documentCount: number,
  ) {}

  /** Fits idf over the documents of one round (each a list of terms). */
  static fit(documents: readonly (readonly string[])[]): TfIdf {
    const df = new Map<string, number>();
    for (const doc of documents) {
      for (const term of new Set(doc)) df.set(term, (df.get(term) ?? 0) + 1);
    }
    return new TfIdf(df, documents.length);
  }

  idf(term: string): number {
    const df = this.documentFrequency.get(term) ?? 0;
    return Math.log((1 + this.documentCount) / (1 + df)) + 1;
  }

  /** Unit-length TF-IDF vector; empty when there are no terms. */
  vector(terms: readonly string[]): SparseVector {
    const counts = new Map<string, number>();
    for (const term of terms) counts.set(term, (counts.get(term) ?? 0) + 1);
    const weights = new Map<string, number>();
    for (const [term, tf] of counts) weights.set(term, (1 + Math.log(tf)) * this.idf(term));
    return normalise(weights);
  }
}

/** Scales a vector to unit length; the zero vector stays empty. */
export function normalise(weights: ReadonlyMap<string, number>): SparseVector {
  let sumSquares = 0;
  for (const w of weights.values()) sumSquares += w * w;
  if (sumSquares === 0) return new Map();
  const norm = Math.sqrt(sumSquares);
  const out = new Map<string, number>();
  for (const [term, w] of weights) out.set(term, w / norm);
  return out;
}

/** a * wa + b * wb, not normalised. */
export function weightedSum(
  a: SparseVector,
  wa: number,
  b: SparseVector,
  wb: number,
): SparseVector {
  const out = new Map<string, number>();
  for (const [term, w] of a) out.set(term, w * wa);
  for (const [term, w] of b) out.set(term, (out.get(term) ?? 0) + w * wb);
  return out;
}

/** Cosine of two unit vectors (0 when either is empty), clamped against rounding. */
export function cosine(a: SparseVector, b: SparseVector): number {
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let dot = 0;
  for (const [term, w] of small) {
    const other = large.get(term);
    if (other !== undefined) dot += w * other;
  }
  return Math.min(1, Math.max(0, dot));
}
