import { NEGATED_PREFIX, OPINION_VERBS } from './analyze.js';

/**
 * Content terms for grouping many texts at once (the clusters of a large group's
 * opinions), without an NLP model: words by a regular expression, English stop words
 * dropped, plurals folded, and the first content word after a negation marked as in
 * contentTerms. Words in any script count; runs of Han, kana or Thai, written without
 * spaces, count as overlapping character pairs. On the Polis comments in test/fixtures ~85% of terms are those of
 * contentTerms; the rest are mostly inflections a lemmatiser merges ("hiring"/"hire").
 * A worker clustering 100 opinions spent more CPU in wink-nlp (tagging, lemmas) than in
 * anything else of the round, ~30 ms before the JIT warms up; this takes a few.
 */
export interface QuickTerm {
  /** What similarity is computed over, e.g. "customer" or "not_adopt". */
  term: string;
  /** The word as written (lower-cased), to name a cluster readably. */
  word: string;
}

const STOP_WORDS: ReadonlySet<string> = new Set(
  (
    'a about above across after afterwards again against all almost alone along already also ' +
    'although always am among an and another any anyhow anyone anything anyway anywhere are ' +
    'around as at be became because become becomes been before being below beside besides ' +
    'between beyond both but by can could did do does doing done down due during each either ' +
    'else elsewhere enough etc even ever every everyone everything everywhere few for from ' +
    'further get gets getting give given go goes going gone got had has have having he hence ' +
    'her here hers herself him himself his how however i ie if in indeed into is it its itself ' +
    'just least less let lets like made make makes many may me meanwhile might mine more ' +
    'moreover most mostly much must my myself namely nevertheless next now of off often on ' +
    'once one only onto or other others otherwise our ours ourselves out over own per perhaps ' +
    'please quite rather really same say says see seem seemed seems several shall she should ' +
    'since so some somehow someone something sometimes somewhere still such than that the ' +
    'their theirs them themselves then thence there thereafter thereby therefore therein ' +
    'these they thing things this those though through throughout thru thus to together too ' +
    'toward towards under until up upon us very via was way we well were what whatever when ' +
    'whence whenever where whereas whereby wherever whether which while who whoever whole ' +
    'whom whose why will with within would yes yet you your yours yourself yourselves'
  ).split(' '),
);

/** Words that open a negation's scope ("n't" endings too). */
const NEGATIONS: ReadonlySet<string> = new Set([
  'not',
  'no',
  'never',
  'nor',
  'neither',
  'cannot',
  'without',
  'none',
  'nothing',
  'nobody',
]);

/** Words ending in "s" that are not plurals. */
const NOT_PLURAL: ReadonlySet<string> = new Set([
  'bias',
  'gas',
  'alias',
  'atlas',
  'canvas',
  'news',
  'series',
  'species',
  'lens',
  'bus',
  'plus',
  'focus',
  'status',
  'census',
  'campus',
  'chaos',
]);

const PLURAL_ES: readonly string[] = ['sses', 'xes', 'ches', 'shes', 'zes'];
const NOT_PLURAL_S: readonly string[] = ['ss', 'us', 'is'];

/** Plurals folded onto the singular ("families" -> "family", "costs" -> "cost"). */
function singular(word: string): string {
  if (NOT_PLURAL.has(word)) return word;
  if (word.length > 4 && word.endsWith('ies')) return `${word.slice(0, -3)}y`;
  if (word.length > 4 && PLURAL_ES.some((e) => word.endsWith(e))) return word.slice(0, -2);
  if (word.length > 3 && word.endsWith('s') && !NOT_PLURAL_S.some((e) => word.endsWith(e))) {
    return word.slice(0, -1);
  }
  return word;
}

/**
 * A word in any script (letters with their combining marks, digits), apostrophes inside
 * it included, or a mark that ends a negation's scope. ASCII-only words made every
 * opinion in Cyrillic, Arabic, Devanagari or Japanese a vector of zeros, so a large
 * group's opinions in those scripts all fell into one cluster, whatever they said.
 */
const TOKEN = /[\p{L}\p{M}\p{N}]+(?:['’][\p{L}\p{M}]+)*|[.,;:!?()\n。、！？，；：]/gu;
const CONTRACTION = /['’](?:s|re|ve|ll|d|m)$/;
/** Scripts written without spaces between words: a run of them is cut into bigrams. */
const UNSPACED = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}]/u;
const LETTER = /\p{L}/u;

function isLetter(code: number): boolean {
  return code >= 97 && code <= 122;
}

/** "週休三日制" -> 週休, 休三, 三日, 日制: words cannot be told apart, overlapping pairs can. */
function bigrams(run: string): string[] {
  const chars = [...run];
  if (chars.length < 2) return chars;
  return chars.slice(0, -1).map((c, i) => c + (chars[i + 1] as string));
}

// One regular expression over the text and character tests per token: a worker runs
// this over every opinion of a large round before the JIT has warmed up.
export function quickTerms(text: string): QuickTerm[] {
  const out: QuickTerm[] = [];
  // A negation waiting for the content word it negates; punctuation ends its scope.
  let negated = false;
  const lower = text.toLowerCase();
  TOKEN.lastIndex = 0;
  for (let match = TOKEN.exec(lower); match !== null; match = TOKEN.exec(lower)) {
    let token = match[0];
    const first = token.charCodeAt(0);
    if (token.length === 1 && !isLetter(first) && !(first >= 48 && first <= 57)) {
      if (!LETTER.test(token)) {
        negated = false;
        continue;
      }
    }
    if (first > 127 && UNSPACED.test(token)) {
      for (const pair of bigrams(token)) out.push({ term: pair, word: pair });
      negated = false;
      continue;
    }
    const apostrophe = token.includes("'") || token.includes('’');
    if (apostrophe) {
      token = token.replaceAll('’', "'");
      if (token.endsWith("n't")) {
        negated = true;
        continue;
      }
      // Possessives and contractions keep their stem ("team's" -> "team").
      token = token.replace(CONTRACTION, '');
      if (token.includes("'")) continue;
    }
    if (NEGATIONS.has(token)) {
      negated = true;
      continue;
    }
    if (token.length < 2 || STOP_WORDS.has(token)) continue;
    // Numbers alone carry no content.
    if (!isLetter(token.charCodeAt(0)) && !LETTER.test(token)) continue;
    const term = singular(token);
    // "I don't think we should adopt it" negates the adopting, not the thinking.
    if (negated && !OPINION_VERBS.has(term)) {
      out.push({ term: NEGATED_PREFIX + term, word: NEGATED_PREFIX + token });
      negated = false;
    } else {
      out.push({ term, word: token });
    }
  }
  return out;
}

/** The terms alone. */
export function quickContentTerms(text: string): string[] {
  return quickTerms(text).map((t) => t.term);
}
