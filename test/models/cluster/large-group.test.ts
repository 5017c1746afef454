import { afterEach, describe, expect, it } from 'vitest';
import {
  cutQuote,
  kmeans,
  lexicalVectors,
  summariseWithin,
} from '../../../src/models/cluster/clusters.js';
import { estimateTokens } from '../../../src/models/llm/client.js';
import { LlmGenerator, type LlmGeneratorOptions } from '../../../src/models/llm/generator.js';
import { planPrompt } from '../../../src/models/llm/large-group.js';
import { quickContentTerms } from '../../../src/models/text/quick-terms.js';
import { TfIdf } from '../../../src/models/text/tfidf.js';
import { dataOf, FakeOpenAI } from '../../fakes/openai.js';
import { RecordingLog } from '../../support/harness.js';
import { largeGroupChat, syntheticOpinions } from '../llm/large-groups.js';
import { clientFor, MemoryLedger, QUESTION } from '../llm/support.js';

const BUDGET = 6_000;
const inputs = (opinions: readonly string[]) => ({
  question: QUESTION,
  opinions,
  critiques: [],
  previous: null,
  wordBudget: 120,
  nonce: '0badc0de',
});

describe('clustering', () => {
  it('puts every opinion in exactly one non-empty cluster', () => {
    const texts = syntheticOpinions(300).map((p) => p.opinion);
    const { assignment, clusters } = kmeans(lexicalVectors(texts), 8, 3);
    expect(assignment).toHaveLength(300);
    const sizes = new Array<number>(clusters).fill(0);
    for (const c of assignment) sizes[c] = (sizes[c] ?? 0) + 1;
    expect(sizes.every((s) => s > 0)).toBe(true);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(300);
    // Six themes, eight clusters: the clustering finds most of the structure.
    expect(clusters).toBeGreaterThanOrEqual(6);
  });

  it('tells opinions in other scripts apart, Japanese (no spaces) included', () => {
    const scripts: Record<string, readonly string[]> = {
      russian: ['Я за четырёхдневку, но нужен пилот', 'Четырёхдневка хороша, если будет пилот'],
      arabic: ['أنا أؤيد أسبوع العمل لأربعة أيام', 'أسبوع العمل لأربعة أيام فكرة جيدة'],
      japanese: [
        '週休三日制に賛成です。家族との時間が増えます',
        '週休三日制なら家族との時間が増えます',
      ],
      hindi: ['मैं चार दिन के सप्ताह का समर्थन करता हूँ', 'चार दिन का सप्ताह अच्छा विचार है'],
    };
    const names = Object.keys(scripts);
    const texts = Array.from({ length: 200 }, (_, i) => {
      const variants = scripts[names[i % 4] as string] as readonly string[];
      return variants[Math.floor(i / 4) % 2] as string;
    });
    const { assignment, clusters } = kmeans(lexicalVectors(texts), 4, 5);
    expect(clusters).toBe(4);
    // Each script's opinions in one cluster of their own.
    const clusterOf = names.map(
      (_, s) =>
        new Set(
          texts
            .map((_, i) => i)
            .filter((i) => i % 4 === s)
            .map((i) => assignment[i]),
        ),
    );
    expect(clusterOf.every((set) => set.size === 1)).toBe(true);
    expect(new Set(clusterOf.map((set) => [...set][0])).size).toBe(4);
  });

  it('weighs terms as TfIdf does, and names dimensions by the words written', () => {
    const texts = [
      'Families need rest. Families need time.',
      'Customers call on Fridays',
      'We should not adopt it',
    ];
    const data = lexicalVectors(texts);
    const docs = texts.map(quickContentTerms);
    const tfidf = TfIdf.fit(docs);
    data.vectors.forEach((v, i) => {
      const expected = tfidf.vector(docs[i] ?? []);
      const got = new Map([...(v.idx ?? [])].map((d, j) => [data.terms?.[d], v.val[j]]));
      expect(got.size).toBe(expected.size);
      // Named by the word as written; the term behind "families" is "family".
      for (const [term, weight] of expected) {
        const name = term === 'family' ? 'families' : term === 'customer' ? 'customers' : term;
        expect(got.get(name === 'friday' ? 'fridays' : name)).toBeCloseTo(weight, 12);
      }
    });
  });

  it('is reproducible from its seed', () => {
    const data = lexicalVectors(syntheticOpinions(120).map((p) => p.opinion));
    expect([...kmeans(data, 5, 'x').assignment]).toEqual([...kmeans(data, 5, 'x').assignment]);
  });

  it('cuts long quotes at a word and marks the cut', () => {
    expect(cutQuote('one two three four five', 12)).toBe('one two…');
    expect(cutQuote('short', 12)).toBe('short');
  });

  it('never cuts a character beyond the BMP in half', () => {
    // 2 UTF-16 units an emoji: a cut at an odd unit used to keep a lone high surrogate.
    expect(cutQuote('😀'.repeat(10), 6)).toBe('😀😀…');
    expect(cutQuote(`x${'😀'.repeat(10)}`, 7)).toBe('x😀😀…');
  });

  it('returns summaries with sizes that add up, largest first, within the fit', () => {
    const texts = syntheticOpinions(500).map((p) => p.opinion);
    const fitted = summariseWithin(
      texts,
      lexicalVectors(texts),
      1,
      (s) => JSON.stringify(s).length < 4_000,
    );
    expect(JSON.stringify(fitted.summaries).length).toBeLessThan(4_000);
    const sizes = fitted.summaries.map((s) => s.size);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(500);
    expect([...sizes].sort((a, b) => b - a)).toEqual(sizes);
    for (const s of fitted.summaries) {
      expect(s.percent).toBe(Math.round((100 * s.size) / 500));
      for (const q of s.quotes) {
        // Verbatim: a whole opinion, or its beginning cut with "…".
        const body = q.endsWith('…') ? q.slice(0, -1) : q;
        expect(texts.some((t) => t.startsWith(body))).toBe(true);
      }
    }
  });
});

describe('the generation prompt of a large group', () => {
  it('stays verbatim while every opinion fits', async () => {
    const texts = syntheticOpinions(20).map((p) => p.opinion);
    const plan = await planPrompt(inputs(texts), { budgetTokens: BUDGET, seed: 1 });
    expect(plan.kind).toBe('verbatim');
  });

  it('2,000 opinions of ~60 words: clustered, every opinion counted, within the budget', async () => {
    const texts = syntheticOpinions(2_000, 60).map((p) => p.opinion);
    const plan = await planPrompt(inputs(texts), { budgetTokens: BUDGET, seed: 7 });
    if (plan.kind !== 'summaries') throw new Error('expected summaries');
    expect(plan.verbatimEstimate).toBeGreaterThan(10 * BUDGET);
    expect(plan.estimate).toBeLessThanOrEqual(BUDGET);
    expect(plan.opinions.assignment).toHaveLength(2_000);
    expect(plan.opinions.summaries.reduce((n, s) => n + s.size, 0)).toBe(2_000);
    expect(plan.opinions.summaries.length).toBeGreaterThanOrEqual(4);
    expect(plan.opinions.summaries.every((s) => s.size > 0 && s.quotes.length > 0)).toBe(true);
  });

  it('holds a small budget too, with critiques in a revision', async () => {
    const texts = syntheticOpinions(400).map((p) => p.opinion);
    const critiques = syntheticOpinions(150, 40, 9).map((p) => p.opinion);
    const plan = await planPrompt(
      { ...inputs(texts), critiques, previous: 'The earlier statement.' },
      { budgetTokens: 1_500, seed: 2 },
    );
    if (plan.kind !== 'summaries') throw new Error('expected summaries');
    expect(plan.estimate).toBeLessThanOrEqual(1_500);
    expect(plan.opinions.summaries.reduce((n, s) => n + s.size, 0)).toBe(400);
    expect(plan.critiques?.summaries.reduce((n, s) => n + s.size, 0)).toBe(150);
  });

  it('refuses, naming LLM_PROMPT_BUDGET_TOKENS, a budget even the barest summaries exceed', async () => {
    // 500 tokens is the lowest the setting takes; the summary instructions, a question of
    // the longest kind and a previous statement are over 1,000 before any group is shown.
    const texts = syntheticOpinions(2_000, 60).map((p) => p.opinion);
    const critiques = syntheticOpinions(300, 30, 4).map((p) => p.opinion);
    await expect(
      planPrompt(
        {
          ...inputs(texts),
          question: `${'Which of these plans should we adopt? '.repeat(13)}`.slice(0, 500),
          critiques,
          previous: 'We agree to a three-month trial. '.repeat(25),
        },
        { budgetTokens: 500, seed: 3 },
      ),
    ).rejects.toThrow(
      /^even the smallest generation prompt \(~1,\d{3} tokens.*exceeds the prompt budget \(500 tokens, LLM_PROMPT_BUDGET_TOKENS\); generation stopped rather than overrun it/,
    );
  });
});

describe('LlmGenerator on a large group (real openai client, fake server)', () => {
  let fake: FakeOpenAI | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  /** The fake server answering as a large group's model would, and a generator on it. */
  async function startGenerator(options: Omit<LlmGeneratorOptions, 'client' | 'model' | 'log'>) {
    const server = await FakeOpenAI.start();
    fake = server;
    server.onChat = largeGroupChat;
    const { client } = clientFor(server);
    const generator = new LlmGenerator({
      client,
      model: 'gen',
      log: new RecordingLog(),
      ...options,
    });
    return { generator, server };
  }

  it.each([
    ['word vectors', undefined],
    ['embeddings', 'embed-model'],
  ])('clusters on %s, keeps every prompt within budget and says so', async (_, embeddingModel) => {
    const { generator, server } = await startGenerator({
      promptBudgetTokens: BUDGET,
      ...(embeddingModel ? { embeddingModel } : {}),
    });
    const participants = syntheticOpinions(1_000, 60);
    const ledger = new MemoryLedger();
    const result = await generator.generate({
      question: QUESTION,
      participants,
      k: 8,
      seed: 11,
      previous: null,
      ledger,
    });
    expect(result.candidates.length).toBeGreaterThan(0);
    const bodies = server.chatBodies('consensus_statement');
    expect(bodies).toHaveLength(8);
    for (const body of bodies) {
      const chars = body.messages.reduce((n, m) => n + m.content.length, 0);
      expect(estimateTokens(chars)).toBeLessThanOrEqual(BUDGET);
      const user = body.messages.find((m) => m.role === 'user')?.content ?? '';
      const counted = [...user.matchAll(/"members": (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
      expect(counted).toBe(1_000);
    }
    expect(server.embeddingBodies().length).toBe(embeddingModel ? 4 : 0);
    const note = result.notes.find((n) => n.startsWith('made from summaries'));
    expect(note).toContain('1000 opinions');
    expect(note).toContain(embeddingModel ? 'embeddings (embed-model)' : 'TF-IDF');
    expect(note).toContain('LLM_PROMPT_BUDGET_TOKENS');
    // Embedding calls are model calls of the round too.
    expect(ledger.spent.calls).toBe(8 + (embeddingModel ? 4 : 0));
  });
  it.each([
    [100, 300, 0],
    [300, 300, 2],
  ])(
    '%i opinions with LLM_EMBED_CLUSTERING_MIN=%i: %i embeddings calls, every opinion counted',
    async (members, embedMin, embedCalls) => {
      const { generator, server } = await startGenerator({
        promptBudgetTokens: BUDGET,
        embeddingModel: 'embed-model',
        embedClusteringMin: embedMin,
      });
      const ledger = new MemoryLedger();
      const result = await generator.generate({
        question: QUESTION,
        participants: syntheticOpinions(members, 60),
        k: 2,
        seed: 5,
        previous: null,
        ledger,
      });
      expect(server.embeddingBodies()).toHaveLength(embedCalls);
      for (const body of server.chatBodies('consensus_statement')) {
        const chars = body.messages.reduce((n, m) => n + m.content.length, 0);
        expect(estimateTokens(chars)).toBeLessThanOrEqual(BUDGET);
        const user = body.messages.find((m) => m.role === 'user')?.content ?? '';
        const counted = [...user.matchAll(/"members": (\d+)/g)].reduce(
          (n, m) => n + Number(m[1]),
          0,
        );
        expect(counted).toBe(members);
      }
      const note = result.notes.find((n) => n.startsWith('made from summaries'));
      expect(note).toContain(
        embedCalls > 0
          ? 'embeddings (embed-model)'
          : 'no embeddings call, LLM_EMBED_CLUSTERING_MIN',
      );
    },
  );

  it('quotes emoji-only opinions as whole characters in the request the server gets', async () => {
    const { generator, server } = await startGenerator({ promptBudgetTokens: BUDGET });
    const emoji = ['😀', '🚲', '🌍', '👍🏽', '🙏', '🚀', '🌙', '🎉', '💡', '🔥'];
    // 500 UTF-16 units each, without a space: every quote shape (400, 300, 240, 120
    // characters) cuts inside a surrogate pair unless the cut avoids it.
    const participants = Array.from({ length: 400 }, (_, i) => ({
      id: `u${i}`,
      opinion: `${emoji[i % emoji.length]}`.repeat(
        emoji[i % emoji.length]?.length === 4 ? 125 : 250,
      ),
      critique: null,
    }));
    await generator.generate({
      question: QUESTION,
      participants,
      k: 2,
      seed: 3,
      previous: null,
      ledger: new MemoryLedger(),
    });
    const bodies = server.chatBodies('consensus_statement');
    expect(bodies).toHaveLength(2);
    const lone = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
    for (const body of bodies) {
      const groups = dataOf(body).opinion_groups as { quoted_opinions: string[] }[];
      const quotes = groups.flatMap((g) => g.quoted_opinions);
      expect(quotes.length).toBeGreaterThan(0);
      for (const quote of quotes) {
        expect(quote.endsWith('…')).toBe(true);
        expect(lone.test(quote)).toBe(false);
        // A prefix of some member's words, as written.
        expect(participants.some((p) => p.opinion.startsWith(quote.slice(0, -1)))).toBe(true);
      }
    }
  });

  it('sends nothing, not even the embeddings, when no prompt fits the budget', async () => {
    const { generator, server } = await startGenerator({
      promptBudgetTokens: 500,
      embeddingModel: 'embed-model',
    });
    const ledger = new MemoryLedger();
    await expect(
      generator.generate({
        question: `${'Should we adopt a four-day week, and on which terms? '.repeat(9)}`.slice(
          0,
          480,
        ),
        participants: syntheticOpinions(1_000, 60),
        k: 4,
        seed: 2,
        previous: null,
        ledger,
      }),
    ).rejects.toThrow(/exceeds the prompt budget \(500 tokens, LLM_PROMPT_BUDGET_TOKENS\)/);
    expect(server.requests).toHaveLength(0);
    expect(ledger.spent.calls).toBe(0);
  });
});
