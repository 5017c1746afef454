import { describe, expect, it } from 'vitest';
import { CandidateSchema } from '../../src/domain/candidate.js';
import {
  ExtractiveGenerator,
  MAX_COMPOSITION_WORDS,
  MAX_REVISION_WORDS,
  tidy,
} from '../../src/models/offline/extractive-generator.js';
import { LexicalRewardModel } from '../../src/models/offline/lexical-reward-model.js';
import type { GenerateInput, ParticipantView } from '../../src/models/ports.js';
import { wordCount } from '../../src/models/text/analyze.js';
import { SCENARIOS } from '../../src/platforms/console/scenarios.js';

const generator = new ExtractiveGenerator();
const fourDay = SCENARIOS.find((s) => s.id === 'four-day-week')!;
const members: ParticipantView[] = fourDay.members.map((m) => ({
  id: m.id,
  opinion: m.opinion,
  critique: null,
}));

function input(overrides: Partial<GenerateInput> = {}): GenerateInput {
  return {
    question: fourDay.question,
    participants: members,
    k: 8,
    seed: 11,
    previous: null,
    ...overrides,
  };
}

describe('tidy', () => {
  it.each([
    ['I think we should run a pilot', 'We should run a pilot.'],
    ['Honestly, the budget is tight.', 'The budget is tight.'],
    ['But only if support stays open.', 'Only if support stays open.'],
    ['No one should lose pay.', 'No one should lose pay.'],
    ['Well paid staff stay longer.', 'Well paid staff stay longer.'],
    ['My main worry is the cost.', 'The cost is a real worry.'],
    ['I worry about fairness.', 'Fairness is a real worry.'],
    // A critique's frame goes; the point it makes stays.
    [
      'It leaves out what matters most to me: parents need real exceptions.',
      'Parents need real exceptions.',
    ],
    ['This misses: support hours must stay.', 'Support hours must stay.'],
    [
      'I would support it only if customers can reach us.',
      'It should only go ahead if customers can reach us.',
    ],
    ['It should say clearly that we want a pilot.', 'We want a pilot.'],
    ['Is this fair?', 'Is this fair?'],
  ])('%j -> %j', (raw, tidied) => {
    expect(tidy(raw)).toBe(tidied);
  });
});

describe('ExtractiveGenerator, first round', () => {
  it('returns at most k valid candidates with ids c1..cK', async () => {
    for (const k of [1, 2, 3, 5, 8, 12, 16]) {
      const { candidates, usage } = await generator.generate(input({ k }));
      expect(candidates.length).toBeGreaterThan(0);
      expect(candidates.length).toBeLessThanOrEqual(k);
      expect(candidates.map((c) => c.id)).toEqual(candidates.map((_, i) => `c${i + 1}`));
      for (const c of candidates) {
        expect(CandidateSchema.parse(c)).toEqual(c);
        expect(c.text.trim().length).toBeGreaterThan(0);
        expect(c.explanation).toBeTruthy();
      }
      expect(usage.calls).toBe(0);
    }
  });

  it('offers every opinion as it stands when k leaves room, plus compositions', async () => {
    const { candidates } = await generator.generate(input({ k: 16 }));
    const opinions = candidates.filter((c) => c.source === 'opinion');
    expect(opinions.map((c) => c.text).sort()).toEqual(members.map((m) => m.opinion).sort());
    for (const m of members) {
      expect(opinions.find((c) => c.text === m.opinion)?.explanation).toBe(
        `the opinion of member ${m.id}`,
      );
    }
    expect(candidates.some((c) => c.source === 'composition')).toBe(true);
  });

  it('keeps half of the slots for compositions when k is below the group size', async () => {
    const { candidates } = await generator.generate(input({ k: 4 }));
    expect(candidates.filter((c) => c.source === 'composition')).toHaveLength(2);
    expect(candidates.filter((c) => c.source === 'opinion')).toHaveLength(2);
    const single = await generator.generate(input({ k: 1 }));
    expect(single.candidates.map((c) => c.source)).toEqual(['composition']);
  });

  it('composes 2-4 sentences from different members, within the word limit', async () => {
    const { candidates } = await generator.generate(input({ k: 16 }));
    const compositions = candidates.filter((c) => c.source === 'composition');
    expect(compositions.length).toBeGreaterThan(0);
    for (const c of compositions) {
      expect(wordCount(c.text)).toBeLessThanOrEqual(MAX_COMPOSITION_WORDS);
      const match = /^central sentences from (\d) members \((.+)\)$/.exec(c.explanation ?? '');
      expect(match).not.toBeNull();
      const authors = match![2]!.split(', ');
      expect(Number(match![1])).toBe(authors.length);
      expect(authors.length).toBeGreaterThanOrEqual(2);
      expect(authors.length).toBeLessThanOrEqual(4);
      expect(new Set(authors).size).toBe(authors.length);
      for (const id of authors) expect(members.map((m) => m.id)).toContain(id);
    }
    // No two compositions are the same statement.
    expect(new Set(compositions.map((c) => c.text)).size).toBe(compositions.length);
  });

  it('splits opinions at ., !, ? and newlines and builds from the shared sentences', async () => {
    const group: ParticipantView[] = [
      {
        id: 'a',
        opinion: 'The library needs longer opening hours!\nParking near the library is terrible',
        critique: null,
      },
      {
        id: 'b',
        opinion: 'Why close at five? Longer opening hours would help students revise.',
        critique: null,
      },
      {
        id: 'c',
        opinion: 'Students need quiet study rooms in the library. Opening hours matter less.',
        critique: null,
      },
    ];
    const { candidates } = await generator.generate({
      question: 'What should the library change?',
      participants: group,
      k: 6,
      seed: 3,
      previous: null,
    });
    const composed = candidates.filter((c) => c.source === 'composition').map((c) => c.text);
    expect(composed.length).toBeGreaterThan(0);
    // Whole sentences only: every composition is made of sentences the members wrote.
    const sentences = [
      'The library needs longer opening hours!',
      'Parking near the library is terrible.',
      'Longer opening hours would help students revise.',
      'Students need quiet study rooms in the library.',
      'Opening hours matter less.',
      'Why close at five?',
    ];
    for (const text of composed) {
      let rest = text;
      for (const s of sentences) rest = rest.replace(s, '');
      expect(rest.trim()).toBe('');
    }
  });

  it('is deterministic for a seed', async () => {
    const a = await generator.generate(input({ k: 5, seed: 99 }));
    const b = await generator.generate(input({ k: 5, seed: 99 }));
    expect(b).toEqual(a);
  });

  it('does not depend on the order in which members replied beyond the seed', async () => {
    const a = await generator.generate(input({ k: 16, seed: 5 }));
    const b = await generator.generate(
      input({ k: 16, seed: 5, participants: [...members].reverse() }),
    );
    expect(b.candidates.map((c) => c.text)).toEqual(a.candidates.map((c) => c.text));
  });

  it('handles a single member and an empty group', async () => {
    const one = await generator.generate(input({ participants: [members[0]!] }));
    expect(one.candidates).toEqual([
      {
        id: 'c1',
        text: members[0]!.opinion,
        source: 'opinion',
        explanation: `the opinion of member ${members[0]!.id}`,
      },
    ]);
    expect((await generator.generate(input({ participants: [] }))).candidates).toEqual([]);
  });

  it('rejects when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(generator.generate(input(), controller.signal)).rejects.toThrow();
  });
});

describe('ExtractiveGenerator, revision', () => {
  const previous =
    'We should run a three-month pilot, measure output and customer satisfaction, and then decide together with real data.';
  const critiques: Record<string, string> = {
    eva: 'It says nothing about the cost. We need the budget numbers from the pilot before any decision.',
    hugo: 'Too much change at once. The pilot should start with one team only.',
  };
  const critiqued = members.map((m) => ({ ...m, critique: critiques[m.id] ?? null }));

  it('keeps the previous statement and adds what the critics asked for', async () => {
    const { candidates } = await generator.generate(
      input({ participants: critiqued, previous, k: 4 }),
    );
    expect(candidates.length).toBeGreaterThan(0);
    expect(candidates.length).toBeLessThanOrEqual(4);
    const revisions = candidates.filter((c) => c.source === 'revision');
    expect(revisions.length).toBeGreaterThan(0);
    for (const r of revisions) {
      expect(r.text.startsWith(previous)).toBe(true);
      expect(wordCount(r.text)).toBeLessThanOrEqual(MAX_REVISION_WORDS);
    }
    const added = revisions.map((r) => r.text.slice(previous.length).trim());
    expect(added).toContain(
      'The pilot should start with one team only. We need the budget numbers from the pilot before any decision.',
    );
    expect(revisions.some((r) => /eva's critique/.test(r.explanation ?? ''))).toBe(true);
    expect(revisions.some((r) => /hugo's critique/.test(r.explanation ?? ''))).toBe(true);
  });

  it('answers a complaint with a sentence from an opinion that addresses it', async () => {
    const group = members.map((m) => ({
      ...m,
      critique: m.id === 'ben' ? 'It ignores the customers who call us on Fridays.' : null,
    }));
    const { candidates } = await generator.generate(input({ participants: group, previous, k: 3 }));
    const first = candidates[0]!;
    expect(first.source).toBe('revision');
    expect(first.text.startsWith(previous)).toBe(true);
    // The complaint itself is not pasted in; a member's sentence about customers is.
    expect(first.text).not.toContain('ignores');
    expect(first.text.slice(previous.length)).toMatch(/customers/i);
    expect(first.explanation).toMatch(/^the previous statement plus an answer to ben's critique/);
  });

  it('makes revisions the critics prefer to the previous statement', async () => {
    const { candidates } = await generator.generate(
      input({ participants: critiqued, previous, k: 4 }),
    );
    const scored = await new LexicalRewardModel().predict({
      question: fourDay.question,
      participants: critiqued,
      candidates: [
        { id: 'prev', text: previous, source: 'revision', explanation: null },
        ...candidates,
      ],
      seed: 1,
    });
    const column = (id: string) => {
      const p = scored.matrix.participants.indexOf(id);
      return scored.matrix.approvals.map((row) => row[p]!);
    };
    for (const critic of ['eva', 'hugo']) {
      const [before, ...after] = column(critic);
      expect(Math.max(...after)).toBeGreaterThan(before! + 0.1);
    }
  });

  it('offers the previous statement again when nobody critiqued it', async () => {
    const { candidates, notes } = await generator.generate(input({ previous, k: 3 }));
    expect(candidates[0]).toMatchObject({ id: 'c1', text: previous, source: 'revision' });
    expect(candidates).toHaveLength(3);
    expect(notes.length).toBe(1);
  });
});
