import { FleetError } from '@agent-fleet/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase } from '../../../test/support/stack.ts';
import { ProfileStore, validateProfile } from './profiles.ts';

describe('ProfileStore', () => {
  let pool: pg.Pool;
  let store: ProfileStore;
  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: await freshDatabase(), max: 2 });
    store = new ProfileStore({ pool });
  });
  afterAll(() => pool.end());

  it('stores, replaces and reads a profile, keeping settings', async () => {
    expect(await store.get('alice')).toBeNull();
    const first = await store.put('alice', { tenant: 'acme-bank', groups: ['legal', 'legal', 'aml'] });
    expect(first).toMatchObject({
      userId: 'alice',
      tenant: 'acme-bank',
      groups: ['legal', 'aml'],
      settings: {},
    });
    expect(first.roleContext).toBeUndefined();
    await pool.query(`UPDATE profiles SET settings = '{"model":"m"}' WHERE user_id = 'alice'`);
    const second = await store.put('alice', { tenant: 'acme-bank', groups: [], roleContext: 'MLRO' });
    expect(second).toMatchObject({ groups: [], roleContext: 'MLRO', settings: { model: 'm' } });
    expect(await store.get('alice')).toEqual(second);
    expect(await store.delete('alice')).toBe(true);
    expect(await store.delete('alice')).toBe(false);
  });

  it('rejects malformed tenants and groups with invalid_request', () => {
    const cases = [
      { tenant: '', groups: [] },
      { tenant: 'a b', groups: [] },
      { tenant: 'acme', groups: ['ok', ''] },
      { tenant: 'acme', groups: 'legal' as unknown as string[] },
      { tenant: 'acme', groups: ['{x}'] },
    ];
    for (const c of cases) {
      expect(() => validateProfile(c)).toThrow(FleetError);
      try {
        validateProfile(c);
      } catch (err) {
        expect((err as FleetError).code).toBe('invalid_request');
      }
    }
  });
});
