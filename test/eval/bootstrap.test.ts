import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/domain/random.js';
import { conversationSpread, formatSpread, pairedSpread } from '../../src/eval/bootstrap.js';
import { loadConversation } from '../../src/eval/polis.js';
import type { VoteScores } from '../../src/eval/protocol.js';
import { scoreConversation } from '../../src/eval/table.js';

const FIXTURE = new URL('../fixtures/polis/london.youth.policing', import.meta.url).pathname;

/** Ten comments, four votes each: two agrees and two disagrees. */
function votes(score: (comment: number, agree: boolean) => number): VoteScores {
  const out: VoteScores = { comment: [], score: [], positive: [] };
  for (let c = 0; c < 10; c++) {
    for (const agree of [true, true, false, false]) {
      out.comment.push(c);
      out.score.push(score(c, agree));
      out.positive.push(agree);
    }
  }
  return out;
}

describe('paired bootstrap over comments', () => {
  it('gives no spread when model and baseline score alike', () => {
    const same = votes((c, agree) => (agree ? 0.6 : 0.4) + c / 100);
    const spread = pairedSpread(same, same, 200, createRng(1));
    expect(spread).toEqual({ sd: 0, ahead: 0, resamples: 200 });
  });

  it('puts a model that separates every comment ahead in every resample', () => {
    const model = votes((_c, agree) => (agree ? 0.9 : 0.1));
    const baseline = votes(() => 0.5);
    const spread = pairedSpread(model, baseline, 200, createRng(1));
    expect(spread?.ahead).toBe(1);
    // Perfect against constant on every draw: the difference is always 0.5.
    expect(spread?.sd).toBeCloseTo(0, 12);
  });

  it('spreads a model that wins on some comments and loses on others', () => {
    // Right on even comments, reversed on odd ones; the baseline is constant.
    const model = votes((c, agree) => (agree === (c % 2 === 0) ? 0.9 : 0.1));
    const baseline = votes(() => 0.5);
    const spread = pairedSpread(model, baseline, 500, createRng(2));
    expect(spread?.sd).toBeGreaterThan(0.05);
    expect(spread?.ahead).toBeGreaterThan(0.2);
    expect(spread?.ahead).toBeLessThan(0.8);
  });

  it('reports each target metric of a real conversation against its best baseline', () => {
    const scored = scoreConversation(loadConversation(FIXTURE));
    const lines = conversationSpread(scored, 50);
    // london has no B or C: vote prediction and cold start only.
    expect(lines.map((l) => l.metric)).toEqual(['A_auc', 'D_auc']);
    for (const line of lines) {
      const model = scored.find((s) => s.row.method === 'model')?.row[line.metric] as number;
      const best = scored.find((s) => s.row.method === line.baseline)?.row[line.metric] as number;
      expect(line.difference).toBeCloseTo(model - best, 12);
      for (const s of scored) {
        const v = s.row[line.metric];
        if (s.row.method !== 'model' && v !== null) expect(v).toBeLessThanOrEqual(best);
      }
      expect(line.resamples).toBe(50);
    }
    // Seeded per cell: the same call gives the same figures.
    expect(conversationSpread(scored, 50)).toEqual(lines);
    expect(formatSpread(lines, 50)).toMatch(/london\.youth\.policing\s+A_auc\s+\S/);
  });
});
