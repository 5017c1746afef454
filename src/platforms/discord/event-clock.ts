/**
 * Discord's reaction events carry no time, so the bot stamps each with its own clock when
 * it arrives, and a member's rating is their latest reaction by that stamp. Two events can
 * arrive within one millisecond (frames read together from the socket, a burst after a
 * resume): with equal stamps the store cannot tell which came last. The stamps therefore
 * rise strictly, in the order events arrive, never falling behind the clock.
 */
export function risingClock(clock: () => number): () => number {
  let last = Number.NEGATIVE_INFINITY;
  return () => {
    last = Math.max(clock(), last + 1);
    return last;
  };
}
