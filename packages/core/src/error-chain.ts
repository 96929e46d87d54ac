/**
 * `err` and the errors it wraps (`cause`, and an AggregateError's `errors`), breadth first, each
 * once and at most 16 in all, skipping values that are not objects. The one walk every recogniser
 * of wrapped errors uses (a pg error inside a pool error inside a FleetError, say).
 */
export function* errorChain(err: unknown): Generator<object> {
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  while (queue.length > 0 && seen.size < 16) {
    const e = queue.shift();
    if (e === null || typeof e !== 'object' || seen.has(e)) continue;
    seen.add(e);
    yield e;
    queue.push((e as { cause?: unknown }).cause);
    if (e instanceof AggregateError) queue.push(...e.errors);
  }
}
