/**
 * A clock running at real speed from 10 min 15 s into an hour, so that fixed rate-limit
 * windows (a minute, an hour) cannot roll over during a test and reset a count it checks.
 */
export function clockInsideWindows(): () => number {
  const base = Math.floor(Date.now() / 3_600_000) * 3_600_000 + 10 * 60_000 + 15_000;
  const started = Date.now();
  return () => base + (Date.now() - started);
}
