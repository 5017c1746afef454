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

export interface TextInput {
  statementTexts: readonly string[];
  /** Author's member index per statement, -1 when unknown or not a member. */
  statementAuthors: readonly number[];
  /** A member's own words (opinion, or the statements they wrote); '' when none. */
  memberTexts: readonly string[];
}

/**
 * What the model knows of statements besides their ratings: similarities, lengths and
 * authors. Computed once per fit and shared by every cross-fitting fold.
 */
export class TextView {
  private readonly statementVectors: SparseVector[];
  private readonly memberVectors: SparseVector[];
  /** log(1 + content words) per statement. */
  private readonly lengths: Float64Array;
  /** Statement x statement cosine, filled on first use (NaN: not computed yet). */
  private readonly similarities: Float32Array;
  readonly statements: number;

  constructor(private readonly input: TextInput) {
    const s = input.statementTexts.length;
    this.statements = s;
    const terms = [...input.statementTexts, ...input.memberTexts].map((t) => contentTerms(t));
    const tfidf = TfIdf.fit(terms);
    const vectors = terms.map((t) => tfidf.vector(t));
    this.statementVectors = vectors.slice(0, s);
    this.memberVectors = vectors.slice(s);
    this.lengths = Float64Array.from(terms.slice(0, s), (t) => Math.log(1 + t.length));
    this.similarities = new Float32Array(s * s).fill(Number.NaN);
  }

  statementSimilarity(a: number, b: number): number {
    const key = a * this.statements + b;
    let v = this.similarities[key]!;
    if (Number.isNaN(v)) {
      v = cosine(this.statementVectors[a] ?? new Map(), this.statementVectors[b] ?? new Map());
      this.similarities[key] = v;
      this.similarities[b * this.statements + a] = v;
    }
    return v;
  }

  ownSimilarity(member: number, statement: number): number {
    const own = this.memberVectors[member];
    if (own === undefined || own.size === 0) return 0;
    return cosine(own, this.statementVectors[statement] ?? new Map());
  }

  length(statement: number): number {
    return this.lengths[statement] ?? 0;
  }

  author(statement: number): number {
    return this.input.statementAuthors[statement] ?? -1;
  }

  isAuthor(member: number, statement: number): boolean {
    return this.author(statement) === member;
  }
}
