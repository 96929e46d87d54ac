/**
 * A stand-in for an object a `beforeAll` hook creates: every property read and write goes to that
 * object (methods bound to it), and any use before the hook ran throws saying what was not started.
 */
export function startedLater<T extends object>(what: string, current: () => T | undefined): T {
  const target = (): T => {
    const value = current();
    if (value === undefined) throw new Error(`${what} is used before the beforeAll hook that starts it ran`);
    return value;
  };
  return new Proxy({} as T, {
    get(_, key) {
      const value = target();
      const prop: unknown = Reflect.get(value, key, value);
      return typeof prop === 'function' ? prop.bind(value) : prop;
    },
    set: (_, key, next) => Reflect.set(target(), key, next),
    has: (_, key) => Reflect.has(target(), key),
  });
}
