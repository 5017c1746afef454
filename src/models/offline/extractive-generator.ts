import type { Candidate } from '../../domain/candidate.js';
import { createRng, shuffled } from '../../domain/random.js';
import {
  type GenerateInput,
  type GenerateResult,
  type Generator,
  NO_USAGE,
  type ParticipantView,
} from '../ports.js';
import { agreement } from '../text/agreement.js';
import { contentTerms, NEGATED_PREFIX, splitSentences, wordCount } from '../text/analyze.js';
import { cosine, normalise, type SparseVector, TfIdf } from '../text/tfidf.js';

/** Compositions stay short enough to read in a chat message and to vote on. */
export const MAX_COMPOSITION_WORDS = 120;
/** A revision may grow the previous statement a little to answer critiques. */
export const MAX_REVISION_WORDS = 160;

/** Sentences this similar say the same thing twice; a statement holds only one of them. */
const NEAR_DUPLICATE = 0.5;
/** How many of the most central sentences compositions are built from. */
const COMPOSITION_POOL = 12;
/**
 * Sentences per composition. Three sentences cannot speak to a group of eight, so a
 * fourth is allowed when the statement stays within MAX_COMPOSITION_WORDS.
 */
const MIN_PARTS = 2;
const MAX_PARTS = 4;
/** Where coverage() stops being a log, so one uncovered member is not -Infinity. */
const COVERAGE_FLOOR = 0.05;
/**
 * Cost, in coverage score, of a sentence that reads as one person's story ("I run a
 * shop", "my commute") or leans on context it no longer has ("They will..."): it may
 * still win a place when it is the only voice of its member, but not by a whisker.
 */
const CONTEXT_PENALTY = 0.3;
/** Smaller cost of a sentence that only observes or argues, rather than proposing. */
const OBSERVATION_PENALTY = 0.05;
/** Upper bound on the pool, which is searched exhaustively (C(16, 4) = 1,820 sets). */
const MAX_POOL = 16;
/** Sentences shorter than this carry no position ("Yes, absolutely."). */
const MIN_SENTENCE_TERMS = 2;
/** Longer sentences are rants, not building blocks. */
const MAX_SENTENCE_WORDS = 45;
/** An answer to a critique must share at least this much with it (agreement). */
const MIN_ANSWER_RELEVANCE = 0.15;
/** Weight of diversity against centrality when not every opinion fits in k. */
const OPINION_DIVERSITY = 0.5;

/** Sentence openers that only make sense in the writer's own message. */
const LEADING_FILLER =
  /^(?:(?:yes|no|honestly|frankly|personally|well|ok|okay|anyway|strongly yes)\s*[,:;!.-]\s*|(?:and|but|also)\s*,?\s+|(?:on balance,? )?i(?: really)? (?:think|believe|feel|am convinced|'m convinced|am sure|'m sure|(?:could|would|'d) (?:accept|agree)|agree)(?: that)?\s+|in my (?:view|opinion),?\s+|to be (?:fair|honest),?\s+|(?:it|this|the statement) (?:leaves out|misses|ignores|forgets|overlooks|(?:does not|doesn't) (?:mention|say))(?: what matters(?: most)? to (?:me|us))?\s*[:\u2014-]\s*)/i;

/** "I run a shop", "my commute": one person's story, odd in a group's statement. */
const FIRST_PERSON = /\b(?:I|I'm|I've|I'd|I'll)\b|\b(?:my|me|mine)\b/;
/** A sentence opening with a pronoun whose referent stayed in the original message. */
const DANGLING_START = /^(?:they|them|this|that|these|those|it|he|she|his|her|their)\b/i;

/**
 * A sentence that asks for something. Consensus statements are mostly proposals and
 * conditions, and a critique phrased as a wish can be added to a statement as it stands.
 */
const NORMATIVE =
  /\b(?:should|must|need|needs|has to|have to|ought|only if|as long as|let's|would rather)\b/i;

interface Sentence {
  /** Index of the member who wrote it. */
  author: number;
  text: string;
  vector: SparseVector;
  words: number;
  /** Mean similarity to the other members' opinions. */
  centrality: number;
  /** Content terms, to spot two sentences that take opposite stances. */
  terms: ReadonlySet<string>;
  /** Written in the first person singular or opening with a dangling pronoun. */
  needsContext: boolean;
  /** Proposes or sets a condition (see NORMATIVE). */
  normative: boolean;
  /** Every run of PHRASE_WORDS consecutive words, lower-cased, to spot repeated wording. */
  phrases: ReadonlySet<string>;
}

interface Composition {
  parts: Sentence[];
  score: number;
  /** Position in the seeded order, for tie-breaks. */
  order: number;
}

/**
 * The offline generator (the studies' "best human opinion" baseline, extended): the
 * candidates are the members' opinions and short compositions of the sentences that
 * are most central across the group; in a critique round, the previous statement plus
 * sentences that answer the critiques.
 */
export class ExtractiveGenerator implements Generator {
  readonly name = 'extractive';

  async generate(input: GenerateInput, signal?: AbortSignal): Promise<GenerateResult> {
    signal?.throwIfAborted();
    const k = Math.max(1, Math.floor(input.k));
    const rng = createRng(input.seed);
    // Every tie below is broken by this seeded order, never by the input order, so no
    // member wins ties merely by having replied first (hence the sort by id first).
    const members = shuffled(
      input.participants
        .filter((p) => p.opinion.trim().length > 0 || hasCritique(p))
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
      rng,
    );
    const notes: string[] = [];
    if (members.length === 0) {
      const candidates =
        input.previous === null
          ? []
          : [
              candidate(
                input.previous,
                'revision',
                'the previous statement, unchanged: there were no opinions to revise it with',
              ),
            ];
      return { candidates: numbered(candidates), usage: NO_USAGE, notes };
    }

    let candidates: Candidate[];
    if (input.previous !== null && members.some(hasCritique)) {
      candidates = revise(members, input.previous, k);
      if (candidates.length === 0) {
        notes.push(
          'no sentence in the opinions or critiques answers the critiques; the previous statement is offered again beside fresh candidates',
        );
        candidates.push(
          candidate(
            input.previous,
            'revision',
            'the previous statement, unchanged: nothing written answers its critiques',
          ),
        );
      }
      if (candidates.length < k) {
        candidates.push(...firstRound(members, k - candidates.length));
      }
    } else if (input.previous !== null) {
      notes.push('nobody critiqued the previous statement; it is kept as a candidate');
      candidates = [
        candidate(input.previous, 'revision', 'the previous statement, unchanged: no critiques'),
        ...firstRound(members, k - 1),
      ];
    } else {
      candidates = firstRound(members, k);
    }
    return { candidates: numbered(dedupe(candidates).slice(0, k)), usage: NO_USAGE, notes };
  }
}

function hasCritique(p: ParticipantView): boolean {
  return (p.critique ?? '').trim().length > 0;
}

/** Opinions and compositions, with compositions guaranteed half of the slots. */
function firstRound(participants: readonly ParticipantView[], k: number): Candidate[] {
  const members = participants.filter((p) => p.opinion.trim().length > 0);
  if (k <= 0 || members.length === 0) return [];
  const opinionTerms = members.map((p) => contentTerms(p.opinion));
  const space = TfIdf.fit(opinionTerms);
  const opinions = opinionTerms.map((terms) => space.vector(terms));
  const sentences = extractSentences(members, opinions, space);
  const compositions = chooseCompositions(sentences, opinions, k);

  const reserved = Math.min(compositions.length, Math.max(Math.ceil(k / 2), k - members.length));
  const opinionSlots = Math.min(members.length, k - reserved);
  const chosenOpinions = chooseOpinions(opinions, opinionSlots);
  const composed = compositions.slice(0, k - chosenOpinions.length).map((c) => {
    const authors = c.parts.map((s) => members[s.author]?.id ?? '?');
    return candidate(
      c.parts.map((s) => s.text).join(' '),
      'composition',
      `central sentences from ${authors.length} members (${authors.join(', ')})`,
    );
  });
  const own = chosenOpinions.map((i) => {
    const member = members[i] as ParticipantView;
    return candidate(member.opinion.trim(), 'opinion', `the opinion of member ${member.id}`);
  });
  return [...composed, ...own];
}

function extractSentences(
  members: readonly ParticipantView[],
  opinions: readonly SparseVector[],
  space: TfIdf,
): Sentence[] {
  const out: Sentence[] = [];
  members.forEach((member, author) => {
    for (const raw of splitSentences(member.opinion)) {
      const s = sentence(raw, author, space, opinions);
      if (s !== null) out.push(s);
    }
  });
  return out;
}

/** A usable building block, or null when it is too short or too long to be one. */
function sentence(
  raw: string,
  author: number,
  space: TfIdf,
  opinions: readonly SparseVector[],
): Sentence | null {
  const text = tidy(raw);
  const terms = contentTerms(text);
  const words = wordCount(text);
  if (terms.length < MIN_SENTENCE_TERMS || words > MAX_SENTENCE_WORDS) return null;
  const vector = space.vector(terms);
  return {
    author,
    text,
    vector,
    words,
    centrality: centrality(vector, opinions, author),
    terms: new Set(terms),
    needsContext: FIRST_PERSON.test(text) || DANGLING_START.test(text),
    normative: NORMATIVE.test(text),
    phrases: phrases(text),
  };
}

/**
 * Mean similarity to the OTHER members' opinions: a sentence is always close to the
 * opinion it came from, which would favour long opinions without saying anything
 * about how widely it is shared.
 */
function centrality(vector: SparseVector, opinions: readonly SparseVector[], author: number) {
  if (opinions.length === 1) return cosine(vector, opinions[0] as SparseVector);
  let sum = 0;
  opinions.forEach((o, i) => {
    if (i !== author) sum += cosine(vector, o);
  });
  return sum / (opinions.length - 1);
}

/**
 * Two sentences that share a run of this many words repeat each other's wording (two
 * members quoting the question, or the same clause with a different tail); a statement
 * that says it twice reads badly even when the rest of each sentence differs.
 */
const PHRASE_WORDS = 5;

function phrases(text: string): Set<string> {
  const words = text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [];
  const out = new Set<string>();
  for (let i = 0; i + PHRASE_WORDS <= words.length; i++) {
    out.add(words.slice(i, i + PHRASE_WORDS).join(' '));
  }
  return out;
}

function sharesPhrase(a: Sentence, b: Sentence): boolean {
  for (const phrase of a.phrases) if (b.phrases.has(phrase)) return true;
  return false;
}

/** True when one sentence negates a word the other affirms ("should help" / "should not help"). */
function contradicts(a: Sentence, b: Sentence): boolean {
  for (const term of a.terms) {
    if (term.startsWith(NEGATED_PREFIX)) {
      if (b.terms.has(term.slice(NEGATED_PREFIX.length))) return true;
    } else if (b.terms.has(NEGATED_PREFIX + term)) {
      return true;
    }
  }
  return false;
}

/**
 * Combinations of MIN_PARTS..MAX_PARTS of the most central sentences, from different
 * members, not contradicting each other, within the word limit; scored by the mean
 * log of each member's similarity to it (Nash welfare on coverage): adding a sentence
 * that reaches a member nobody spoke for gains far more than repeating a voice that is
 * already there, and the worst-covered member weighs most without the plain minimum's
 * endless ties at zero. Chosen greedily so that compositions share at most half of
 * their sentences.
 */
function chooseCompositions(
  sentences: readonly Sentence[],
  opinions: readonly SparseVector[],
  k: number,
): Composition[] {
  const ranked = [...sentences].sort((a, b) => b.centrality - a.centrality);
  // Each member's most central sentence enters first, so that a member nobody else
  // echoes (the one worried about cost) can still be spoken for.
  // A sentence that reads well out of context is preferred as that voice.
  const seen = new Set<number>();
  const firsts = [
    ...ranked.filter((s) => !s.needsContext),
    ...ranked.filter((s) => s.needsContext),
  ].filter((s) => !seen.has(s.author) && seen.add(s.author));
  firsts.sort((a, b) => b.centrality - a.centrality);
  const size = Math.min(MAX_POOL, Math.max(COMPOSITION_POOL, firsts.length));
  const pool = distinctSentences([...firsts.slice(0, size), ...ranked], size);
  const all: Composition[] = [];
  const score = (parts: readonly Sentence[]) => {
    const vector = combine(parts);
    let sum = 0;
    for (const o of opinions) sum += coverage(agreement(o, vector));
    const penalty =
      CONTEXT_PENALTY * parts.filter((s) => s.needsContext).length +
      OBSERVATION_PENALTY * parts.filter((s) => !s.normative).length;
    return sum / opinions.length - penalty;
  };
  const grow = (parts: Sentence[], from: number, words: number) => {
    if (parts.length >= MIN_PARTS) {
      // Proposals before arguments, each most central first: the statement opens with
      // what the group could do, then the conditions and reasons.
      const ordered = [...parts].sort(
        (a, b) => Number(b.normative) - Number(a.normative) || b.centrality - a.centrality,
      );
      all.push({ parts: ordered, score: score(parts), order: all.length });
    }
    if (parts.length === MAX_PARTS) return;
    for (let i = from; i < pool.length; i++) {
      const next = pool[i] as Sentence;
      if (words + next.words > MAX_COMPOSITION_WORDS) continue;
      if (parts.some((p) => p.author === next.author || contradicts(p, next))) continue;
      if (parts.some((p) => sharesPhrase(p, next))) continue;
      grow([...parts, next], i + 1, words + next.words);
    }
  };
  grow([], 0, 0);
  all.sort((a, b) => b.score - a.score || a.order - b.order);
  const chosen: Composition[] = [];
  for (const c of all) {
    if (chosen.length >= k) break;
    const overlaps = chosen.some((d) => {
      const shared = c.parts.filter((s) => d.parts.includes(s)).length;
      return 2 * shared > Math.min(c.parts.length, d.parts.length);
    });
    if (!overlaps) chosen.push(c);
  }
  return chosen;
}

/**
 * log(agreement), continued below COVERAGE_FLOOR along its tangent: a member left out
 * costs log(FLOOR), a member contradicted ("should" where they wrote "should not")
 * costs much more, since a composition that says the opposite of them is worse than
 * one that is silent about them.
 */
function coverage(agreement: number): number {
  if (agreement >= COVERAGE_FLOOR) return Math.log(agreement);
  return Math.log(COVERAGE_FLOOR) + (agreement - COVERAGE_FLOOR) / COVERAGE_FLOOR;
}

/** The first `limit` sentences of a ranked list, skipping near-duplicates of earlier ones. */
function distinctSentences(ranked: readonly Sentence[], limit: number): Sentence[] {
  const out: Sentence[] = [];
  for (const s of ranked) {
    if (out.length >= limit) break;
    if (out.every((t) => cosine(s.vector, t.vector) <= NEAR_DUPLICATE)) out.push(s);
  }
  return out;
}

/** Indices of the opinions to offer as they stand: central first, then diverse. */
function chooseOpinions(opinions: readonly SparseVector[], slots: number): number[] {
  if (slots >= opinions.length) return opinions.map((_, i) => i);
  const central = opinions.map((o, i) => centrality(o, opinions, i));
  const chosen: number[] = [];
  while (chosen.length < slots) {
    let best = -1;
    let bestScore = Number.NEGATIVE_INFINITY;
    opinions.forEach((o, i) => {
      if (chosen.includes(i)) return;
      const redundancy = Math.max(0, ...chosen.map((c) => cosine(o, opinions[c] as SparseVector)));
      const score = (central[i] as number) - OPINION_DIVERSITY * redundancy;
      if (score > bestScore) {
        best = i;
        bestScore = score;
      }
    });
    chosen.push(best);
  }
  return chosen;
}

interface Addition {
  sentence: Sentence;
  /** Whose critique it answers. */
  critic: string;
  /** Where the sentence comes from, for the explanation. */
  from: string;
}

/**
 * Revision candidates: the previous statement plus, for the most widely shared
 * critiques first, the sentence (from any opinion, or a critique phrased as a wish)
 * that best answers each; and the previous statement with its least shared sentence
 * swapped for those answers, when adding would make it too long.
 */
function revise(members: readonly ParticipantView[], previous: string, k: number): Candidate[] {
  const critiques = members.map((p) => (p.critique ?? '').trim());
  const opinionTerms = members.map((p) => contentTerms(p.opinion));
  const critiqueTerms = critiques.map((c) => (c.length > 0 ? contentTerms(c) : []));
  // The previous statement is kept word for word: tidy() is for members' chat messages.
  const previousSentences = splitSentences(previous);
  const space = TfIdf.fit([
    ...opinionTerms,
    ...critiqueTerms.filter((t) => t.length > 0),
    contentTerms(previous),
  ]);
  const opinions = opinionTerms.map((t) => space.vector(t));
  const critiqueVectors = critiqueTerms.map((t) => space.vector(t));
  const previousVectors = previousSentences.map((s) => space.vector(contentTerms(s)));
  const critics = members.map((_, i) => i).filter((i) => (critiques[i] as string).length > 0);

  // Opinion sentences, plus critique sentences that ask for something.
  const pool: { sentence: Sentence; from: string }[] = [];
  for (const s of extractSentences(members, opinions, space)) {
    pool.push({ sentence: s, from: `a sentence from ${members[s.author]?.id}'s opinion` });
  }
  for (const i of critics) {
    for (const raw of splitSentences(critiques[i] as string)) {
      const s = sentence(raw, i, space, opinions);
      // Tested before tidy() restates it: "It should say that we want X" asks for X.
      if (s === null || !(NORMATIVE.test(raw) || NORMATIVE.test(s.text))) continue;
      pool.push({ sentence: s, from: 'in their own words' });
    }
  }
  // Nothing the previous statement already says counts as an answer.
  const fresh = pool.filter(({ sentence }) =>
    previousVectors.every((v) => cosine(sentence.vector, v) <= NEAR_DUPLICATE),
  );

  // The critique most like the others first: answering it serves the most critics.
  const ranked = [...critics].sort(
    (a, b) => sharedness(b, critics, critiqueVectors) - sharedness(a, critics, critiqueVectors),
  );
  const additions: Addition[] = [];
  for (const c of ranked) {
    const target = critiqueVectors[c] as SparseVector;
    let best: { sentence: Sentence; from: string } | null = null;
    let bestScore = 0;
    for (const option of fresh) {
      if (additions.some((a) => cosine(a.sentence.vector, option.sentence.vector) > NEAR_DUPLICATE))
        continue;
      // Signed agreement, so that a sentence saying the opposite of what the critic
      // asked for is never their answer, however many words it shares with them; how
      // widely the sentence is shared breaks near-ties towards answers the rest of the
      // group can also accept.
      const relevance = agreement(target, option.sentence.vector);
      if (relevance < MIN_ANSWER_RELEVANCE) continue;
      const score = relevance + 0.25 * option.sentence.centrality;
      if (score > bestScore) {
        best = option;
        bestScore = score;
      }
    }
    if (best !== null) {
      additions.push({ ...best, critic: members[c]?.id ?? '?' });
    }
  }
  if (additions.length === 0) return [];

  const base = previous.trim();
  const out: Candidate[] = [];
  const describe = (chosen: readonly Addition[]) =>
    chosen.map((a) => `${a.critic}'s critique (${a.from})`).join('; ');
  const add = (chosen: readonly Addition[]) => {
    const text = [base, ...chosen.map((a) => a.sentence.text)].join(' ');
    if (wordCount(text) > MAX_REVISION_WORDS) return false;
    out.push(
      candidate(text, 'revision', `the previous statement plus an answer to ${describe(chosen)}`),
    );
    return true;
  };
  // Cumulative answers first (1, 1+2, 1+2+3...), then each later answer on its own.
  for (let n = 1; n <= additions.length && out.length < k; n++) {
    if (!add(additions.slice(0, n))) break;
  }
  for (let i = 1; i < additions.length && out.length < k; i++) {
    add([additions[i] as Addition]);
  }
  // The swap keeps the statement short when the previous one was already long.
  if (previousSentences.length > 1 && out.length < k) {
    const weakest = weakestSentence(previousVectors, opinions, critiqueVectors);
    const kept = previousSentences.filter((_, i) => i !== weakest);
    const swapIn = additions.slice(0, 2);
    const text = [...kept, ...swapIn.map((a) => a.sentence.text)].join(' ');
    if (wordCount(text) <= MAX_REVISION_WORDS) {
      out.push(
        candidate(
          text,
          'revision',
          `the previous statement with its least shared sentence replaced by an answer to ${describe(swapIn)}`,
        ),
      );
    }
  }
  return out;
}

function sharedness(i: number, critics: readonly number[], vectors: readonly SparseVector[]) {
  let sum = 0;
  for (const j of critics)
    if (j !== i) sum += cosine(vectors[i] as SparseVector, vectors[j] as SparseVector);
  return sum;
}

/** The previous statement's sentence least like anything the members wrote. */
function weakestSentence(
  sentences: readonly SparseVector[],
  opinions: readonly SparseVector[],
  critiques: readonly SparseVector[],
): number {
  let weakest = 0;
  let lowest = Number.POSITIVE_INFINITY;
  sentences.forEach((s, i) => {
    let support = 0;
    for (const o of opinions) support += cosine(s, o);
    // A sentence the critics attacked is as good as unsupported.
    for (const c of critiques) support -= 0.5 * cosine(s, c);
    if (support < lowest) {
      weakest = i;
      lowest = support;
    }
  });
  return weakest;
}

/** Unit vector of several sentences read as one text. */
function combine(parts: readonly Sentence[]): SparseVector {
  const sum = new Map<string, number>();
  for (const part of parts) {
    for (const [term, w] of part.vector) sum.set(term, (sum.get(term) ?? 0) + w);
  }
  return normalise(sum);
}

/**
 * First-person frames common in chat opinions, restated so that the sentence can sit
 * in a statement written for the whole group. Only frames whose meaning survives the
 * rewrite are listed; anything else keeps its words (and its context penalty).
 */
const REFRAMES: readonly [RegExp, (...groups: string[]) => string][] = [
  // "My main worry is the cost." -> "The cost is a real worry."
  [
    /^my (?:main |biggest |real |only )?(worry|concern|fear) (?:is|remains) (?!that\b)(.+?)[.!]?$/i,
    (kind, what) => `${what} is a real ${kind}.`,
  ],
  // "I worry about fairness." -> "Fairness is a real worry."
  [
    /^i(?:'m| am)? (?:worry|worried|concerned) about (.+?)[.!]?$/i,
    (what) => `${what} is a real worry.`,
  ],
  // "I would support it only if X." -> "It should only go ahead if X."
  [
    /^i (?:would|could|'d) (?:only )?(?:support|accept|back) (?:it|this|that) only (if|when) (.+?)[.!]?$/i,
    (when, what) => `It should only go ahead ${when} ${what}.`,
  ],
  // A critique about the statement's wording: "It should say that we want X." -> "We want X."
  [
    /^(?:it|this|the statement|the text) (?:should|must|needs to) (?:also )?(?:clearly )?(?:say|state|mention|acknowledge|make (?:it )?clear)(?: clearly)? that (.+)$/i,
    (what) => what,
  ],
  // "I would rather have X than Y." -> "Some of us would rather have X than Y."
  [/^i(?: would|'d) rather (.+)$/i, (what) => `Some of us would rather ${what}`],
];

/** Removes openers that only fit the writer's own message, and ends with a full stop. */
export function tidy(sentence: string): string {
  let text = sentence.trim();
  for (let previous = ''; previous !== text; ) {
    previous = text;
    text = text.replace(LEADING_FILLER, '');
  }
  for (const [pattern, restate] of REFRAMES) {
    const match = pattern.exec(text);
    if (match) {
      text = restate(...match.slice(1).map((g) => g ?? ''));
      break;
    }
  }
  if (text.length === 0) return sentence.trim();
  text = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?…"')\]]$/.test(text) ? text : `${text}.`;
}

function candidate(text: string, source: Candidate['source'], explanation: string): Candidate {
  return { id: '', text, source, explanation };
}

/** Two members may write the same thing; one candidate is enough. */
function dedupe(candidates: readonly Candidate[]): Candidate[] {
  const seen = new Set<string>();
  return candidates.filter((c) => {
    const key = c.text.toLowerCase().replace(/\s+/g, ' ').trim();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function numbered(candidates: readonly Candidate[]): Candidate[] {
  return candidates.map((c, i) => ({ ...c, id: `c${i + 1}` }));
}
