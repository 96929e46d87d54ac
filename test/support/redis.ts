import { Redis } from 'ioredis';
import { afterAll, beforeEach } from 'vitest';
import { freshNamespace, redisUrl } from './stack.ts';

/**
 * A key namespace of its own for each test of the enclosing file or `describe`, on the run's
 * Redis. Before each test, the returned object gets the `redis` connection, the new `namespace`
 * and what `open` builds in it (the stores under test); the connection closes after the tests.
 */
export function onFreshNamespace<T extends object>(
  open: (place: { redis: Redis; namespace: string }) => T,
): T & { redis: Redis; namespace: string } {
  const redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
  const place = {} as T & { redis: Redis; namespace: string };
  beforeEach(() => {
    const namespace = freshNamespace();
    Object.assign(place, { redis, namespace }, open({ redis, namespace }));
  });
  afterAll(() => redis.quit());
  return place;
}
