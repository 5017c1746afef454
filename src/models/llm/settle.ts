/**
 * Promise.allSettled over `items`, with at most `limit` of them started and unsettled
 * at once; results in the items' order.
 *
 * The first `limit` are started one turn of the event loop apart. Started in one go,
 * every call ran its preparation (look-ups, prompt, place) before any of them could send
 * its request, because each request only leaves once the event loop is free; the model
 * server then got the first request ~15 ms after a judge stage began at N = 100 and
 * sat idle meanwhile. Now the first request leaves while the next ones are prepared.
 */
export async function settleWithin<T, R>(
  items: readonly T[],
  limit: number,
  run: (item: T) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const at = next++;
      try {
        results[at] = { status: 'fulfilled', value: await run(items[at] as T) };
      } catch (reason) {
        results[at] = { status: 'rejected', reason };
      }
    }
  };
  const lanes: Promise<void>[] = [];
  const count = Math.min(Math.max(1, limit), items.length);
  for (let i = 0; i < count; i++) {
    lanes.push(lane());
    if (i + 1 < count) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  await Promise.all(lanes);
  return results;
}
