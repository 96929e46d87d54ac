import { FleetError } from '@agent-fleet/core';
import { describe, expect, it } from 'vitest';
import { onFreshDatabase } from '../../../test/support/postgres.ts';
import { ApiKeyStore, parseApiKey, validateApiKeyInput } from './api-keys.ts';

describe('ApiKeyStore (real Postgres)', () => {
  const db = onFreshDatabase((pool) => ({ store: new ApiKeyStore({ pool }) }), 2);

  it('creates a key shown once, stores only the hash of its secret, and verifies it', async () => {
    const created = await db.store.create({
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
    const row = await db.pool.query<{ secret_hash: Buffer }>(
      'SELECT secret_hash FROM api_keys WHERE id = $1',
      [created.id],
    );
    expect(row.rows[0]!.secret_hash.toString('latin1')).not.toContain(secret);
    expect(JSON.stringify(await db.pool.query('SELECT * FROM api_keys'))).not.toContain(secret);

    const { key: _key, ...stored } = created;
    expect(await db.store.verify(created.key)).toEqual(stored);
    expect(await db.store.get(created.id)).toEqual(stored);
  });

  it('answers null for malformed, unknown, tampered and revoked keys', async () => {
    const created = await db.store.create({ name: 'ops', scopes: ['admin'] });
    const { id, secret } = parseApiKey(created.key)!;
    const flipped = `${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;
    for (const bad of ['', 'Bearer x', 'fk_nothex', `fk_${id}_${flipped}`, `fk_0000000000000000_${secret}`])
      expect(await db.store.verify(bad)).toBeNull();
    expect(await db.store.verify(created.key)).not.toBeNull();
    expect(await db.store.revoke(id)).toBe('revoked');
    expect(await db.store.revoke(id)).toBe('already-revoked');
    expect(await db.store.revoke('0000000000000000')).toBe('not-found');
    expect(await db.store.revoke('not an id')).toBe('not-found');
    expect(await db.store.verify(created.key)).toBeNull();
    expect((await db.store.get(id))?.revokedAt).toBeDefined();
  });

  it('lists live keys newest first, revoked ones only when asked, never with a secret', async () => {
    const live = await db.store.list();
    expect(live.every((k) => k.revokedAt === undefined)).toBe(true);
    const all = await db.store.list({ includeRevoked: true });
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
