import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { agreement, CONTRADICTION_WEIGHT } from '../../src/models/text/agreement.js';
import { contentTerms, splitSentences, wordCount } from '../../src/models/text/analyze.js';
import { quickContentTerms, quickTerms } from '../../src/models/text/quick-terms.js';
import { cosine, TfIdf } from '../../src/models/text/tfidf.js';

describe('splitSentences', () => {
  it('breaks at full stops, exclamation and question marks, and newlines', () => {
    expect(
      splitSentences(
        'One idea here. Another one! Is this a third?\nA line without a stop\n\nLast.',
      ),
    ).toEqual([
      'One idea here.',
      'Another one!',
      'Is this a third?',
      'A line without a stop',
      'Last.',
    ]);
  });

  it('keeps abbreviations inside their sentence and drops blank lines', () => {
    expect(splitSentences('Dr. Smith agrees, e.g. on costs.\n   \n')).toEqual([
      'Dr. Smith agrees, e.g. on costs.',
    ]);
  });

  it('returns nothing for blank text', () => {
    expect(splitSentences('  \n ')).toEqual([]);
  });
});

describe('contentTerms', () => {
  it('lemmatises and drops stop words and punctuation', () => {
    expect(contentTerms('The children are playing in the parks!')).toEqual([
      'child',
      'play',
      'park',
    ]);
  });

  it('marks the first word in the scope of a negation only', () => {
    expect(contentTerms('We should not adopt a four-day week.')).toEqual([
      'not_adopt',
      'day',
      'week',
    ]);
  });

  it('passes a negated opinion verb on to the clause it introduces', () => {
    expect(contentTerms("I don't think we should adopt it.")).toEqual(['think', 'not_adopt']);
  });
});

describe('quickContentTerms', () => {
  it('drops stop words, folds plurals, and marks the first negated word', () => {
    expect(quickContentTerms('We should not adopt a four-day week.')).toEqual([
      'not_adopt',
      'four',
      'day',
      'week',
    ]);
    expect(quickContentTerms("I don't think we should adopt it.")).toEqual(['think', 'not_adopt']);
    expect(quickContentTerms("Families' costs, and the team's boxes!")).toEqual([
      'family',
      'cost',
      'team',
      'box',
    ]);
    // Punctuation ends a negation's scope before any content word.
    expect(quickContentTerms('No, customers come first.')).toEqual(['customer', 'come', 'first']);
    expect(quickContentTerms('There is no bias here')).toEqual(['not_bias']);
  });

  it('keeps the word as written beside the term', () => {
    expect(quickTerms('Stresses and stress')).toEqual([
      { term: 'stress', word: 'stresses' },
      { term: 'stress', word: 'stress' },
    ]);
  });

  it('agrees with contentTerms on most terms of real comments', () => {
    const csv = readFileSync(
      resolve(import.meta.dirname, '../fixtures/polis/london.youth.policing/comments.csv'),
    );
    const comments = (parse(csv, { columns: true }) as { 'comment-body': string }[]).map(
      (r) => r['comment-body'],
    );
    let agreement = 0;
    for (const c of comments) {
      const full = new Set(contentTerms(c));
      const quick = new Set(quickContentTerms(c));
      const both = [...full].filter((t) => quick.has(t)).length;
      agreement += both / Math.max(1, new Set([...full, ...quick]).size);
    }
    // Mostly inflections a lemmatiser merges and this does not ("hiring" / "hire").
    expect(agreement / comments.length).toBeGreaterThan(0.75);
  });
});

describe('wordCount', () => {
  it.each([
    ['', 0],
    ['  one  ', 1],
    ['two words', 2],
    ['a\nthree word\ttext', 4],
  ])('%j has %i words', (text, n) => {
    expect(wordCount(text)).toBe(n);
  });
});

describe('TfIdf', () => {
  // Two documents: "a" in both, "b" and "c" in one each.
  const space = TfIdf.fit([
    ['a', 'b'],
    ['a', 'c'],
  ]);

  it('gives smoothed idf ln((1 + N) / (1 + df)) + 1', () => {
    expect(space.idf('a')).toBeCloseTo(1, 12);
    expect(space.idf('b')).toBeCloseTo(Math.log(3 / 2) + 1, 12);
    expect(space.idf('unseen')).toBeCloseTo(Math.log(3) + 1, 12);
  });

  it('makes unit vectors with sublinear term frequency', () => {
    const v = space.vector(['b', 'b', 'a']);
    const wb = (1 + Math.log(2)) * (Math.log(1.5) + 1);
    const norm = Math.hypot(1, wb);
    expect(v.get('a')).toBeCloseTo(1 / norm, 12);
    expect(v.get('b')).toBeCloseTo(wb / norm, 12);
  });

  it('computes cosine by hand: only "a" is shared', () => {
    // |a|^2 = 1 + idf(b)^2 = 1 + 1.405465^2 = 2.975332, dot = 1 -> 0.336097
    const cos = cosine(space.vector(['a', 'b']), space.vector(['a', 'c']));
    expect(cos).toBeCloseTo(1 / (1 + (Math.log(1.5) + 1) ** 2), 12);
    expect(cos).toBeCloseTo(0.336097, 5);
  });

  it('gives 1 for identical, 0 for disjoint and for empty vectors', () => {
    expect(cosine(space.vector(['a', 'b']), space.vector(['b', 'a']))).toBeCloseTo(1, 12);
    expect(cosine(space.vector(['b']), space.vector(['c']))).toBe(0);
    expect(cosine(space.vector([]), space.vector(['a']))).toBe(0);
  });
});

describe('agreement', () => {
  // Unit vectors written out, so that the numbers can be checked by hand.
  const v = (entries: [string, number][]) => new Map(entries);

  it('is the cosine when nothing is contradicted', () => {
    const a = v([
      ['adopt', 0.6],
      ['week', 0.8],
    ]);
    expect(agreement(a, a)).toBeCloseTo(1, 12);
    expect(agreement(a, v([['week', 1]]))).toBeCloseTo(0.8, 12);
  });

  it('subtracts twice the weight of terms one text affirms and the other negates', () => {
    const yes = v([
      ['adopt', 0.6],
      ['week', 0.8],
    ]);
    const no = v([
      ['not_adopt', 0.6],
      ['week', 0.8],
    ]);
    // cosine 0.8 * 0.8 = 0.64; contradicted 0.6 * 0.6 = 0.36; 0.64 - 2 * 0.36 = -0.08
    expect(CONTRADICTION_WEIGHT).toBe(2);
    expect(agreement(yes, no)).toBeCloseTo(-0.08, 12);
    expect(agreement(no, yes)).toBeCloseTo(-0.08, 12);
  });

  it('ignores a term that a text holds in both polarities', () => {
    const both = v([
      ['decide', 0.6],
      ['not_decide', 0.8],
    ]);
    expect(agreement(both, v([['decide', 1]]))).toBeCloseTo(0.6, 12);
  });
});
