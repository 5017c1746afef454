import type { RoundUsage } from './views.js';

type StageUsage = RoundUsage[string];

/**
 * A round's model use, one line per stage that called the model: calls, then prompt and
 * completion tokens apart (they are priced apart). Issue 3 asks for the use per round as
 * well as per stage, so a round that used several stages ends with their total. Empty for
 * an offline model.
 */
export function usageLines(usage: RoundUsage): string[] {
  const stages = Object.entries(usage).filter(([, u]) => u.calls > 0);
  const lines = stages.map(([stage, u]) => usageLine(stage, u));
  if (stages.length > 1) lines.push(usageLine('round total', total(stages.map(([, u]) => u))));
  return lines;
}

function usageLine(label: string, u: StageUsage): string {
  return (
    `${label}: ${count(u.calls, 'call')}, ${u.promptTokens.toLocaleString('en-US')} prompt + ` +
    `${u.completionTokens.toLocaleString('en-US')} completion tokens`
  );
}

function total(stages: readonly StageUsage[]): StageUsage {
  return stages.reduce(
    (sum, u) => ({
      calls: sum.calls + u.calls,
      promptTokens: sum.promptTokens + u.promptTokens,
      completionTokens: sum.completionTokens + u.completionTokens,
    }),
    { calls: 0, promptTokens: 0, completionTokens: 0 },
  );
}

function count(n: number, noun: string): string {
  return `${n.toLocaleString('en-US')} ${noun}${n === 1 ? '' : 's'}`;
}
