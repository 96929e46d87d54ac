import { FleetError, type ProfileSettings } from '@agent-fleet/core';
import { describe, expect, it } from 'vitest';
import { onFreshDatabase } from '../../../test/support/postgres.ts';
import { ProfileStore, validateProfile } from './profiles.ts';

describe('ProfileStore', () => {
  const db = onFreshDatabase((pool) => ({ store: new ProfileStore({ pool }) }), 2);

  it('stores, replaces and reads a profile, keeping settings', async () => {
    expect(await db.store.get('alice')).toBeNull();
    const first = await db.store.put('alice', { tenant: 'acme-bank', groups: ['legal', 'legal', 'aml'] });
    expect(first).toMatchObject({
      userId: 'alice',
      tenant: 'acme-bank',
      groups: ['legal', 'aml'],
      settings: {},
    });
    expect(first.roleContext).toBeUndefined();
    await db.pool.query(`UPDATE profiles SET settings = '{"model":"m"}' WHERE user_id = 'alice'`);
    const second = await db.store.put('alice', { tenant: 'acme-bank', groups: [], roleContext: 'MLRO' });
    expect(second).toMatchObject({ groups: [], roleContext: 'MLRO', settings: { model: 'm' } });
    expect(await db.store.get('alice')).toEqual(second);
    expect(await db.store.delete('alice')).toBe(true);
    expect(await db.store.delete('alice')).toBe(false);
  });

  it('stores settings as the schema reads them, and names a stored value that no longer parses', async () => {
    const settings: ProfileSettings = {
      model: 'big',
      temperature: 0.2,
      tools: ['recall_notes'],
      doubleTexting: 'coalesce',
    };
    const put = await db.store.put('bob', { tenant: 'acme-bank', groups: [], settings });
    expect(put.settings).toEqual(settings);
    expect(await db.store.resolve('bob')).toEqual(put);
    const fallback = await db.store.putTenantDefault('acme-bank', {
      groups: ['staff'],
      settings: { model: 'small' },
    });
    expect((await db.store.resolve('nobody', 'acme-bank'))?.settings).toEqual({ model: 'small' });
    expect(fallback.settings).toEqual({ model: 'small' });
    expect(() =>
      validateProfile({ tenant: 'acme', groups: [], settings: { temperature: 7 } as never }),
    ).toThrow(/invalid settings[\s\S]*temperature/);
    await db.pool.query(`UPDATE profiles SET settings = '{"temperature":"hot"}' WHERE user_id = 'bob'`);
    await expect(db.store.get('bob')).rejects.toThrow(/stored profile of user bob has invalid settings/);
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
