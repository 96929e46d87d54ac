import { FleetError } from '@agent-fleet/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase } from '../../../test/support/stack.ts';
import { ApiKeyStore, parseApiKey, validateApiKeyInput } from './api-keys.ts';

describe('ApiKeyStore (real Postgres)', () => {
  let pool: pg.Pool;
  let store: ApiKeyStore;
  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: await freshDatabase(), max: 2 });
    store = new ApiKeyStore({ pool });
  });
  afterAll(() => pool.end());

  it('creates a key shown once, stores only the hash of its secret, and verifies it', async () => {
    const created = await store.create({
      name: 'billing service',
      scopes: ['messages:write', 'turns:read', 'turns:read'],
      tenant: 'acme-bank',
      actAsUsers: true,
    });
    expect(created.key).toMatch(/^fk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(created).toMatchObject({
      name: 'billing service',
      scopes: ['messages:write', 'turns:read'],
      tenant: 'acme-bank',
      actAsUsers: true,
    });
    const secret = parseApiKey(created.key)!.secret;
    const row = await pool.query<{ secret_hash: Buffer }>('SELECT secret_hash FROM api_keys WHERE id = $1', [
      created.id,
    ]);
    expect(row.rows[0]!.secret_hash.toString('latin1')).not.toContain(secret);
    expect(JSON.stringify(await pool.query('SELECT * FROM api_keys'))).not.toContain(secret);

    const { key: _key, ...stored } = created;
    expect(await store.verify(created.key)).toEqual(stored);
    expect(await store.get(created.id)).toEqual(stored);
  });

  it('answers null for malformed, unknown, tampered and revoked keys', async () => {
    const created = await store.create({ name: 'ops', scopes: ['admin'] });
    const { id, secret } = parseApiKey(created.key)!;
    const flipped = `${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;
    for (const bad of ['', 'Bearer x', 'fk_nothex', `fk_${id}_${flipped}`, `fk_0000000000000000_${secret}`])
      expect(await store.verify(bad)).toBeNull();
    expect(await store.verify(created.key)).not.toBeNull();
    expect(await store.revoke(id)).toBe('revoked');
    expect(await store.revoke(id)).toBe('already-revoked');
    expect(await store.revoke('0000000000000000')).toBe('not-found');
    expect(await store.revoke('not an id')).toBe('not-found');
    expect(await store.verify(created.key)).toBeNull();
    expect((await store.get(id))?.revokedAt).toBeDefined();
  });

  it('lists live keys newest first, revoked ones only when asked, never with a secret', async () => {
    const live = await store.list();
    expect(live.every((k) => k.revokedAt === undefined)).toBe(true);
    const all = await store.list({ includeRevoked: true });
    expect(all.length).toBeGreaterThan(live.length);
    expect(JSON.stringify(all)).not.toMatch(/fk_|secret/);
  });

  it('refuses bad names, scopes and tenants with invalid_request', () => {
    const cases = [
      { name: '', scopes: ['admin'] },
      { name: 'x', scopes: [] },
      { name: 'x', scopes: ['root'] },
      { name: 'x', scopes: ['admin'], tenant: 'a b' },
    ];
    for (const c of cases) {
      expect(() => validateApiKeyInput(c as never)).toThrow(FleetError);
    }
    expect(() => validateApiKeyInput({ name: 'x', scopes: ['root' as never] })).toThrow(
      /unknown scope "root"/,
    );
  });
});
