import { createRng, type Rng } from '../domain/random.js';
import { METHOD_NAMES } from './baselines.js';
import type { Score } from './metrics.js';
import {
  type RankItems,
  rankRho,
  type ScoredMethod,
  type VoteScores,
  voteAuc,
} from './protocol.js';
import { TARGET_KEYS } from './table.js';

/**
 * How far a conversation's comments alone can move "model minus best baseline": each
 * resample draws the cell's comments with replacement (a test vote goes with its
 * comment, since one comment's votes are not independent of each other) and scores
 * the model and the baseline that was best on the full data on the same draw. The
 * spread says whether a miss or a win is larger than what a different set of
 * statements on the same topic could give.
 */

export interface SpreadLine {
  conversation: string;
  metric: (typeof TARGET_KEYS)[number];
  baseline: string;
  /** Model minus best baseline on the full data. */
  difference: number;
  /** Standard deviation of the difference over the resamples. */
  sd: number;
  /** Share of resamples in which the model is strictly ahead. */
  ahead: number;
  /** Resamples where both metrics were defined (a draw can make a side constant). */
  resamples: number;
}

type Items = VoteScores | RankItems;

/** Positions of each distinct comment's items, in first-seen order. */
function byComment(items: Items): number[][] {
  const groups = new Map<number, number[]>();
  items.comment.forEach((c, i) => {
    let list = groups.get(c);
    if (list === undefined) {
      list = [];
      groups.set(c, list);
    }
    list.push(i);
  });
  return [...groups.values()];
}

function metricOn(items: Items, positions: readonly number[]): number | null {
  if ('positive' in items) {
    return voteAuc({
      comment: positions.map((i) => items.comment[i] as number),
      score: positions.map((i) => items.score[i] as number),
      positive: positions.map((i) => items.positive[i] as boolean),
    });
  }
  return rankRho({
    comment: positions.map((i) => items.comment[i] as number),
    score: positions.map((i) => items.score[i] as Score),
    truth: positions.map((i) => items.truth[i] as Score),
  });
}

/** Paired bootstrap of one cell; null when the items hold no comment. */
export function pairedSpread(
  model: Items,
  baseline: Items,
  resamples: number,
  rng: Rng,
): Omit<SpreadLine, 'conversation' | 'metric' | 'baseline' | 'difference'> | null {
  const groups = byComment(model);
  if (groups.length === 0) return null;
  const differences: number[] = [];
  for (let r = 0; r < resamples; r++) {
    const positions: number[] = [];
    for (let k = 0; k < groups.length; k++) {
      positions.push(...(groups[Math.floor(rng.next() * groups.length)] as number[]));
    }
    const m = metricOn(model, positions);
    const b = metricOn(baseline, positions);
    if (m !== null && b !== null) differences.push(m - b);
  }
  if (differences.length === 0) return { sd: Number.NaN, ahead: Number.NaN, resamples: 0 };
  const mean = differences.reduce((a, b) => a + b, 0) / differences.length;
  const variance =
    differences.reduce((a, d) => a + (d - mean) ** 2, 0) / Math.max(differences.length - 1, 1);
  return {
    sd: Math.sqrt(variance),
    ahead: differences.filter((d) => d > 0).length / differences.length,
    resamples: differences.length,
  };
}

/** One line per target metric the model and some baseline both have, for one conversation. */
export function conversationSpread(
  scored: readonly ScoredMethod[],
  resamples: number,
  seed = 0,
): SpreadLine[] {
  const model = scored.find((s) => s.row.method === METHOD_NAMES.model);
  if (model === undefined) return [];
  const lines: SpreadLine[] = [];
  for (const metric of TARGET_KEYS) {
    const modelItems = model.items[metric];
    const modelValue = model.row[metric];
    if (modelItems === null || modelValue === null) continue;
    let best: ScoredMethod | null = null;
    for (const s of scored) {
      const v = s.row[metric];
      if (s === model || v === null || s.items[metric] === null) continue;
      if (best === null || v > (best.row[metric] as number)) best = s;
    }
    if (best === null) continue;
    // One generator per cell, so a cell's figures do not depend on which cells precede it.
    const rng = createRng(`${seed}:${model.row.conversation}:${metric}`);
    const spread = pairedSpread(modelItems, best.items[metric] as Items, resamples, rng);
    if (spread === null) continue;
    lines.push({
      conversation: model.row.conversation,
      metric,
      baseline: best.row.method,
      difference: modelValue - (best.row[metric] as number),
      ...spread,
    });
  }
  return lines;
}

export function formatSpread(lines: readonly SpreadLine[], resamples: number): string {
  const header = ['conversation', 'metric', 'best baseline', 'model - best', 'sd', 'model ahead'];
  const body = lines.map((l) => [
    l.conversation,
    l.metric,
    l.baseline,
    `${l.difference >= 0 ? '+' : ''}${l.difference.toFixed(3)}`,
    Number.isNaN(l.sd) ? 'n/a' : l.sd.toFixed(3),
    Number.isNaN(l.ahead) ? 'n/a' : `${Math.round(l.ahead * 100)}%`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i < 3 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [
    `spread of model - best baseline over the comments (${resamples} paired bootstrap resamples):`,
    line(header),
    ...body.map(line),
  ].join('\n');
}
