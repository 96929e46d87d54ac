import { userKeys } from '@agent-fleet/core';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { freshNamespace, redisUrl } from '../../../test/support/stack.ts';
import { ProfileCache } from './profile-cache.ts';

const redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
afterAll(() => redis.quit());

interface P {
  tenant: string;
  settings: { model?: string };
}
/** Stands in for a zod schema: the cache needs only `parse`. */
const schema = {
  parse(value: unknown): P {
    const v = value as P;
    if (typeof v?.tenant !== 'string' || typeof v.settings !== 'object') throw new Error('not a profile');
    return v;
  },
};

describe('ProfileCache (real Redis)', () => {
  const make = (profiles: Record<string, P>) => {
    const namespace = freshNamespace();
    const reads: string[] = [];
    const cache = new ProfileCache<P>({
      redis,
      namespace,
      schema,
      store: {
        async get(userId) {
          reads.push(userId);
          return profiles[userId] ?? null;
        },
      },
    });
    return { cache, reads, key: (u: string) => userKeys(namespace, u).profile };
  };

  it('reads the store once, then the cache; a user without a profile is cached too', async () => {
    const { cache, reads } = make({ ada: { tenant: 'acme', settings: { model: 'm' } } });
    expect(await cache.get('ada')).toEqual({ tenant: 'acme', settings: { model: 'm' } });
    expect(await cache.get('ada')).toEqual({ tenant: 'acme', settings: { model: 'm' } });
    expect(await cache.get('nobody')).toBeNull();
    expect(await cache.get('nobody')).toBeNull();
    expect(reads).toEqual(['ada', 'nobody']);
  });

  it('replaces an entry the schema refuses (an older shape, or not JSON) from the store', async () => {
    const { cache, reads, key } = make({ ada: { tenant: 'acme', settings: { model: 'm' } } });
    await redis.set(key('ada'), JSON.stringify({ tenant: 'acme', settings: 'model=m' }));
    expect(await cache.get('ada')).toEqual({ tenant: 'acme', settings: { model: 'm' } });
    await redis.set(key('ada'), '{not json');
    expect(await cache.get('ada')).toEqual({ tenant: 'acme', settings: { model: 'm' } });
    expect(reads).toEqual(['ada', 'ada']);
    expect(JSON.parse((await redis.get(key('ada')))!)).toEqual({ tenant: 'acme', settings: { model: 'm' } });
  });
});
