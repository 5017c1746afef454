import type { RoundUsage } from './views.js';

/**
 * A round's model use, one line per stage that called the model: calls, then prompt and
 * completion tokens apart (they are priced apart). Empty for an offline model.
 */
export function usageLines(usage: RoundUsage): string[] {
  return Object.entries(usage)
    .filter(([, u]) => u.calls > 0)
    .map(
      ([stage, u]) =>
        `${stage}: ${count(u.calls, 'call')}, ${u.promptTokens.toLocaleString('en-US')} prompt + ` +
        `${u.completionTokens.toLocaleString('en-US')} completion tokens`,
    );
}

function count(n: number, noun: string): string {
  return `${n.toLocaleString('en-US')} ${noun}${n === 1 ? '' : 's'}`;
}
