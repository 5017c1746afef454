import { vi } from 'vitest';

/**
 * A clock running at real speed from 10 min 15 s into an hour, so that fixed rate-limit
 * windows (a minute, an hour) cannot roll over during a test and reset a count it checks.
 */
export function clockInsideWindows(): () => number {
  const base = Math.floor(Date.now() / 3_600_000) * 3_600_000 + 10 * 60_000 + 15_000;
  const started = Date.now();
  return () => base + (Date.now() - started);
}

/**
 * Runs `work` with Date.now `offMs` off, as on a machine whose clock is wrong: this one
 * process stands in for a worker on another machine sharing the test's Redis.
 */
export async function withClockOff<T>(offMs: number, work: () => Promise<T>): Promise<T> {
  const trueNow = Date.now;
  const skewed = vi.spyOn(Date, 'now').mockImplementation(() => trueNow() + offMs);
  try {
    return await work();
  } finally {
    skewed.mockRestore();
  }
}
