import { FleetError, type ProfileSettings } from '@agent-fleet/core';
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

  it('stores settings as the schema reads them, and names a stored value that no longer parses', async () => {
    const settings: ProfileSettings = {
      model: 'big',
      temperature: 0.2,
      tools: ['recall_notes'],
      doubleTexting: 'coalesce',
    };
    const put = await store.put('bob', { tenant: 'acme-bank', groups: [], settings });
    expect(put.settings).toEqual(settings);
    expect(await store.resolve('bob')).toEqual(put);
    const fallback = await store.putTenantDefault('acme-bank', {
      groups: ['staff'],
      settings: { model: 'small' },
    });
    expect((await store.resolve('nobody', 'acme-bank'))?.settings).toEqual({ model: 'small' });
    expect(fallback.settings).toEqual({ model: 'small' });
    expect(() =>
      validateProfile({ tenant: 'acme', groups: [], settings: { temperature: 7 } as never }),
    ).toThrow(/invalid settings[\s\S]*temperature/);
    await pool.query(`UPDATE profiles SET settings = '{"temperature":"hot"}' WHERE user_id = 'bob'`);
    await expect(store.get('bob')).rejects.toThrow(/stored profile of user bob has invalid settings/);
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
