import { type ApiKey, ApiKeyStore, createPool } from '@agent-fleet/state';
import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase } from '../../../../test/support/stack.ts';
import { ApiKeyCache } from './key-cache.ts';

describe('ApiKeyCache (real Postgres)', () => {
  let pool: Pool;
  let store: ApiKeyStore;
  beforeAll(async () => {
    pool = createPool(await freshDatabase(), 2);
    store = new ApiKeyStore({ pool });
  });
  afterAll(() => pool.end());

  it('serves a key from memory until its revocation is announced, then asks Postgres', async () => {
    const cache = new ApiKeyCache({ store, ttlMs: 60_000 });
    const created = await store.create({ name: 'svc', scopes: ['turns:read'] });
    const other = await store.create({ name: 'other', scopes: ['turns:read'] });
    expect((await cache.verify(created.key))?.id).toBe(created.id);
    expect((await cache.verify(other.key))?.id).toBe(other.id);
    await store.revoke(created.id);
    // Not announced yet: remembered for the cache time.
    expect((await cache.verify(created.key))?.id).toBe(created.id);
    cache.drop(created.id);
    expect(await cache.verify(created.key)).toBeNull();
    expect((await cache.verify(other.key))?.id).toBe(other.id);
  });

  it('forgets everything on clear (revocations may have been missed)', async () => {
    const cache = new ApiKeyCache({ store, ttlMs: 60_000 });
    const created = await store.create({ name: 'svc', scopes: ['turns:read'] });
    await cache.verify(created.key);
    await store.revoke(created.id);
    cache.clear();
    expect(await cache.verify(created.key)).toBeNull();
  });

  it('refuses a key whose revocation arrived while Postgres was being asked about it', async () => {
    const created = await store.create({ name: 'svc', scopes: ['turns:read'] });
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    // The real store, answering only once the revocation has arrived (as a slow query would).
    const slow = {
      verify: async (token: string): Promise<ApiKey | null> => {
        const key = await store.verify(token);
        await held;
        return key;
      },
    };
    const cache = new ApiKeyCache({ store: slow, ttlMs: 60_000 });
    const lookup = cache.verify(created.key);
    await new Promise((r) => setTimeout(r, 50));
    await store.revoke(created.id);
    cache.drop(created.id);
    release();
    expect(await lookup).toBeNull();
    expect(await cache.verify(created.key)).toBeNull();
  });
});
