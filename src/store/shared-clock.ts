/**
 * The time that the windows and leases every process shares are scored by: the rate
 * windows and the cap on model requests in flight. Their scripts read it from Redis, the
 * one clock all processes agree on. Scored by each process's own clock, a worker whose
 * clock ran ahead by more than a lease's lifetime dropped the others' live leases as
 * expired (two requests then ran under a cap of one), and skew shifted every window.
 */

/**
 * Stands in for Redis's clock (ms since the epoch), for tests that move time on instead
 * of waiting. Production passes none: a process's own clock is what must not be used.
 */
export type SharedClock = () => number;

/**
 * The opening of a script whose ARGV[1] is `clockArg`: sets `now` (ms) to the stand-in's
 * time when there is one, else to Redis's. Redis 7 replicates a script by its effects,
 * so a script that writes may read TIME.
 */
export const SHARED_NOW = `
local now = tonumber(ARGV[1])
if not now then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
`;

/** ARGV[1] for SHARED_NOW: empty (Redis's clock) unless a test gives a stand-in. */
export function clockArg(clock: SharedClock | undefined): number | string {
  return clock ? Math.floor(clock()) : '';
}
