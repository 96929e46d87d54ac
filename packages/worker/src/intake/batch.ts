/**
 * Runs `run` on every item, items of different keys concurrently and items of one key strictly
 * one after another in the order given. Items without a key run on their own. Resolves, in the
 * order given, to each item's settled outcome; one failure does not stop the others, not even
 * those of its key (an intake job that fails is not accepted, so the next one of its user may be).
 */
export async function runInKeyOrder<T, R>(
  items: readonly T[],
  keyOf: (item: T) => string | undefined,
  run: (item: T) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  const tails = new Map<string, Promise<unknown>>();
  const outcomes = items.map((item) => {
    const key = keyOf(item);
    const before = key === undefined ? undefined : tails.get(key);
    const outcome = before ? before.then(() => run(item)) : Promise.resolve().then(() => run(item));
    if (key !== undefined)
      tails.set(
        key,
        outcome.catch(() => undefined),
      );
    return outcome;
  });
  return Promise.allSettled(outcomes);
}
