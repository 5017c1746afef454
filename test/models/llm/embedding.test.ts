import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { calibrateCosine, EmbeddingRewardModel } from '../../../src/models/llm/embedding.js';
import type { ParticipantView } from '../../../src/models/ports.js';
import { FakeOpenAI } from '../../fakes/openai.js';
import { candidate, clientFor, MemoryLedger, QUESTION } from './support.js';

/** Texts are embedded as fixed directions, so the expected cosines are known exactly. */
const AXES: Record<string, number[]> = {
  'cars out of the centre': [1, 0, 0],
  'more buses': [0, 1, 0],
  'fix the potholes first': [0, 0, 1],
  'no more buses please': [0, -1, 0.2],
  'Close the centre to cars.': [0.9, 0.1, 0],
  'Run more buses.': [0.1, 0.9, 0.1],
  'Repair the roads.': [0, 0.1, 0.9],
};

describe('EmbeddingRewardModel', () => {
  let fake: FakeOpenAI;
  beforeEach(async () => {
    fake = await FakeOpenAI.start();
    fake.onEmbeddings = (body) => ({
      kind: 'embeddings',
      vectors: [body.input].flat().map((t) => AXES[t] ?? [0.3, 0.3, 0.3]),
    });
  });
  afterEach(async () => {
    await fake.close();
  });

  const participants: ParticipantView[] = [
    { id: 'ana', opinion: 'cars out of the centre', critique: null },
    { id: 'ben', opinion: 'more buses', critique: 'no more buses please' },
    { id: 'cai', opinion: 'fix the potholes first', critique: null },
    { id: 'dee', opinion: '', critique: null },
  ];
  const candidates = [
    candidate('cars', 'Close the centre to cars.'),
    candidate('buses', 'Run more buses.'),
    candidate('roads', 'Repair the roads.'),
  ];

  it('embeds every text once in one float call and ranks candidates by closeness', async () => {
    const { client } = clientFor(fake);
    const model = new EmbeddingRewardModel({ client, model: 'emb-model' });
    const ledger = new MemoryLedger();
    const result = await model.predict({
      question: QUESTION,
      participants,
      candidates,
      seed: 1,
      ledger,
    });

    const bodies = fake.embeddingBodies();
    expect(bodies).toHaveLength(1);
    expect(bodies[0]?.encoding_format).toBe('float');
    expect(bodies[0]?.model).toBe('emb-model');
    expect(bodies[0]?.input).toHaveLength(7);
    expect(ledger.spent.calls).toBe(1);
    expect(result.model).toBe('embeddings (emb-model)');

    const [cars, buses, roads] = result.matrix.approvals;
    for (const row of result.matrix.approvals) {
      for (const x of row.slice(0, 3)) {
        expect(x).toBeGreaterThan(0);
        expect(x).toBeLessThan(1);
      }
      // A member who wrote nothing is not predicted.
      expect(row[3]).toBeNull();
    }
    expect(cars![0]).toBeGreaterThan(buses![0]!);
    expect(roads![2]).toBeGreaterThan(cars![2]!);
    // Ben's critique pulls his profile away from buses: it is no longer his favourite.
    expect(buses![1]).toBeLessThan(cars![0]!);
  });

  it('calibrates relative to the round: the mean pair is 1/2, and no spread means 1/2 for all', () => {
    expect(calibrateCosine(0.4, 0.4, 0.1)).toBeCloseTo(0.5, 12);
    expect(calibrateCosine(0.5, 0.4, 0.1)).toBeCloseTo(1 / (1 + Math.exp(-1.5)), 12);
    expect(calibrateCosine(0.3, 0.4, 0.1)).toBeCloseTo(1 / (1 + Math.exp(1.5)), 12);
    expect(calibrateCosine(0.9, 0.9, 0)).toBe(0.5);
  });

  it('retries an answer with a value that is not a finite number instead of scoring with it', async () => {
    const { client } = clientFor(fake, { maxRetries: 1 });
    const model = new EmbeddingRewardModel({ client, model: 'emb-model' });
    // An overflowed float, as a server may write it: JSON.parse reads it as Infinity.
    const vector = (i: number) => (i === 0 ? '[1e999, 0, 0]' : '[0.3, 0.3, 0.3]');
    fake.script('embeddings', {
      kind: 'text',
      status: 200,
      text: `{"object": "list", "model": "emb-model", "data": [${Array.from({ length: 7 }, (_, i) => `{"object": "embedding", "index": ${i}, "embedding": ${vector(i)}}`).join(', ')}]}`,
    });
    const result = await model.predict({ question: QUESTION, participants, candidates, seed: 1 });
    expect(fake.embeddingBodies()).toHaveLength(2);
    // Scored from the second answer (the fixed directions): ana is closest to the cars.
    const [cars, buses] = result.matrix.approvals;
    expect(cars?.[0]).toBeGreaterThan(buses?.[0] ?? 1);
  });

  it('fails the stage with the reason when the embeddings call keeps failing', async () => {
    const { client } = clientFor(fake, { maxRetries: 1 });
    const model = new EmbeddingRewardModel({ client, model: 'emb-model' });
    fake.script('embeddings', { kind: 'error', status: 500 }, { kind: 'error', status: 500 });
    await expect(
      model.predict({ question: QUESTION, participants, candidates, seed: 1 }),
    ).rejects.toThrow(/the embeddings call failed: the model server answered 500/);
  });
});
