import { createRequire } from 'node:module';
import type model from 'wink-eng-lite-web-model';
import type winkNLP from 'wink-nlp';
import type { ItemSentence, ItsFunction, WinkMethods } from 'wink-nlp';

/**
 * English text analysis shared by the offline models: sentence splitting and the
 * content terms (lemmas) that lexical similarity is computed over.
 */

let nlp: WinkMethods | null = null;

/**
 * Loaded on first use, the packages too (not only the engine): importing them costs
 * ~35 MiB of RSS and tens of milliseconds, and a process on a model server (a worker
 * judging with the LLM, clustering on embeddings) may never analyse a word. `require`
 * keeps this synchronous; both packages are CommonJS.
 */
function engine(): WinkMethods {
  if (nlp) return nlp;
  const require = createRequire(import.meta.url);
  const create = require('wink-nlp') as typeof winkNLP;
  const theModel = require('wink-eng-lite-web-model') as typeof model;
  // 'pos' feeds the lemmatiser (e.g. "costs" as a noun -> "cost"); 'negation' marks the
  // scope of "not"/"never", which a bag of words would otherwise throw away.
  nlp = create(theModel, ['sbd', 'pos', 'negation']);
  return nlp;
}

/**
 * Prefix for a negated term. "We should not adopt it" and "We should adopt it" share
 * every content word; marking the negated one ("not_adopt") keeps the two stances
 * apart, which matters more to a member than the shared topic words.
 */
export const NEGATED_PREFIX = 'not_';

/** Punctuation inside a compound ("four-day", "and/or"), which does not end a scope. */
const WORD_JOINERS: ReadonlySet<string> = new Set(['-', '–', '/']);

/** Verbs that pass a negation on to the clause they introduce (quick-terms.ts too). */
export const OPINION_VERBS: ReadonlySet<string> = new Set([
  'think',
  'believe',
  'feel',
  'suppose',
  'reckon',
  'expect',
  'want',
]);

/** Sentences with their surrounding whitespace removed; empty lines dropped. */
export function splitSentences(text: string): string[] {
  const out: string[] = [];
  // wink only breaks at a blank line; a single newline in a chat message (a list, or
  // a second thought) is a sentence boundary too.
  for (const line of text.split(/\r?\n/)) {
    if (line.trim().length === 0) continue;
    engine()
      .readDoc(line)
      .sentences()
      .each((sentence: ItemSentence) => {
        const trimmed = sentence.out().trim();
        if (trimmed.length > 0) out.push(trimmed);
      });
  }
  return out;
}

/**
 * Lower-cased lemmas of the words that carry content: stop words, punctuation,
 * numbers and symbols are dropped. The first content word inside a negation's scope
 * carries NEGATED_PREFIX: wink marks the whole scope up to the next punctuation, but
 * what is negated is nearly always that first word ("should not ADOPT a four-day
 * week"); marking the rest would turn shared topic words into false contradictions.
 */
export function contentTerms(text: string): string[] {
  const terms: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim().length === 0) continue;
    const { its } = engine();
    // wink-nlp's declarations give its.lemma the (index, rdd, addons) signature of the
    // internal helper, which does not match the ItsFunction that out() accepts, although
    // out() calls it correctly at run time; the cast only restates the real contract.
    const lemmaOf = its.lemma as unknown as ItsFunction<string>;
    // Each property for the whole line in one pass: reading them token by token built an
    // item object per token and cost ~3x as much before the JIT warmed up (profile of a
    // worker clustering 100 opinions on word vectors).
    const tokens = engine().readDoc(line).tokens();
    const values = tokens.out() as string[];
    const negatedFlags = tokens.out(its.negationFlag) as unknown as boolean[];
    const types = tokens.out(its.type) as unknown as string[];
    const stopWords = tokens.out(its.stopWordFlag) as unknown as boolean[];
    const lemmas = tokens.out(lemmaOf) as unknown as string[];
    // Whether the current negation scope has had its negated word yet.
    let inScope = false;
    let marked = false;
    for (let i = 0; i < values.length; i++) {
      const negated = negatedFlags[i] === true;
      // wink leaves the hyphen of "four-day" outside the scope it sits in.
      if (!negated && !WORD_JOINERS.has(values[i] ?? '')) inScope = false;
      else if (negated && !inScope) {
        inScope = true;
        marked = false;
      }
      if (types[i] !== 'word') continue;
      if (stopWords[i] === true) continue;
      const lemma = String(lemmas[i]).toLowerCase();
      // Contractions' remnants ("'s", "'re") and single letters carry no meaning.
      if (lemma.length < 2 || !/[a-z]/.test(lemma) || lemma.includes("'")) continue;
      // "I don't think we should adopt it" negates the adopting, not the thinking.
      if (negated && !marked && !OPINION_VERBS.has(lemma)) {
        terms.push(NEGATED_PREFIX + lemma);
        marked = true;
      } else {
        terms.push(lemma);
      }
    }
  }
  return terms;
}

/** Whitespace-separated words, the unit of the generator's length limit. */
export function wordCount(text: string): number {
  const words = text.trim().split(/\s+/);
  return words[0] === '' ? 0 : words.length;
}
