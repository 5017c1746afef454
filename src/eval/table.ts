import { commentMean, METHOD_NAMES, oneFactor, polisGroups, voterMean } from './baselines.js';
import { learnedModel } from './model-method.js';
import type { Conversation } from './polis.js';
import { evaluateItems, type Method, prepare, type Row, type ScoredMethod } from './protocol.js';

export const METRIC_KEYS = [
  'A_auc',
  'B_rho',
  'B_regret',
  'B_n',
  'C_rho',
  'C_n',
  'D_auc',
  'D_rho',
  'D_n',
  'fit_ms',
] as const;

/** Metrics the targets compare (higher is better). */
export const TARGET_KEYS = ['A_auc', 'B_rho', 'C_rho', 'D_auc'] as const;

export function methodsFor(conversation: Conversation): Method[] {
  return [commentMean, polisGroups(conversation), voterMean, oneFactor, learnedModel()];
}

export function evaluateConversation(conversation: Conversation): Row[] {
  return scoreConversation(conversation).map((s) => s.row);
}

/** Every method's row with the per-item scores behind it (for the bootstrap). */
export function scoreConversation(conversation: Conversation): ScoredMethod[] {
  const prepared = prepare(conversation);
  return methodsFor(conversation).map((method) => evaluateItems(prepared, method));
}

/** Per method, each metric averaged over the conversations where it is defined. */
export function meanRows(rows: readonly Row[]): Row[] {
  const methods = [...new Set(rows.map((r) => r.method))];
  return methods.map((method) => {
    const mine = rows.filter((r) => r.method === method);
    const mean = (key: (typeof METRIC_KEYS)[number]) => {
      const values = mine.map((r) => r[key]).filter((v): v is number => v !== null);
      return values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;
    };
    return {
      conversation: 'mean',
      method,
      A_auc: mean('A_auc'),
      B_rho: mean('B_rho'),
      B_regret: mean('B_regret'),
      // Counts are properties of the conversations, not figures of a method: not averaged.
      B_n: null,
      C_rho: mean('C_rho'),
      C_n: null,
      D_auc: mean('D_auc'),
      D_rho: mean('D_rho'),
      D_n: null,
      fit_ms: mean('fit_ms') ?? 0,
    };
  });
}

const HEADERS = [
  'conversation',
  'method',
  'A auc',
  'B rho',
  'B regret',
  'B n',
  'C rho',
  'C n',
  'D auc',
  'D rho',
  'D n',
  'fit ms',
];

function cell(row: Row, key: (typeof METRIC_KEYS)[number]): string {
  const v = row[key];
  if (v === null) return 'n/a';
  if (key === 'fit_ms') return v.toFixed(1);
  if (key.endsWith('_n')) return String(v);
  return v.toFixed(3);
}

export function formatTable(rows: readonly Row[]): string {
  const body = rows.map((r) => [
    r.conversation,
    r.method,
    ...METRIC_KEYS.map((k) => (r.conversation === 'mean' && k.endsWith('_n') ? '' : cell(r, k))),
  ]);
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  const out = [line(HEADERS), widths.map((w) => '-'.repeat(w)).join('  ')];
  let previous = '';
  for (const b of body) {
    if (previous !== '' && b[0] !== previous) out.push('');
    previous = b[0] ?? '';
    out.push(line(b));
  }
  return out.join('\n');
}

/** Whether the model beats the best baseline of each target metric, per conversation. */
export function targetReport(rows: readonly Row[]): string[] {
  const lines: string[] = [];
  for (const conversation of [...new Set(rows.map((r) => r.conversation))]) {
    const mine = rows.filter((r) => r.conversation === conversation);
    const model = mine.find((r) => r.method === METHOD_NAMES.model);
    if (!model) continue;
    const parts = TARGET_KEYS.map((key) => {
      const mv = model[key];
      const baselines = mine
        .filter((r) => r.method !== METHOD_NAMES.model)
        .map((r) => r[key])
        .filter((v): v is number => v !== null);
      if (mv === null || baselines.length === 0) return `${key} n/a`;
      const best = Math.max(...baselines);
      return `${key} ${mv > best ? 'met' : 'MISSED'} (${mv.toFixed(3)} vs ${best.toFixed(3)})`;
    });
    lines.push(`${conversation}: ${parts.join(', ')}`);
  }
  return lines;
}

/** EVAL.md section 5: the per-conversation rows, exactly these keys, null where n/a. */
export function toJson(rows: readonly Row[]): string {
  return JSON.stringify(
    rows.map((r) => ({
      conversation: r.conversation,
      method: r.method,
      A_auc: r.A_auc,
      B_rho: r.B_rho,
      B_regret: r.B_regret,
      B_n: r.B_n,
      C_rho: r.C_rho,
      C_n: r.C_n,
      D_auc: r.D_auc,
      D_rho: r.D_rho,
      D_n: r.D_n,
      fit_ms: r.fit_ms,
    })),
    null,
    2,
  );
}
