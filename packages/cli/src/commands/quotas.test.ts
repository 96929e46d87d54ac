import { tenantKeys, userKeys } from '@agent-fleet/core';
import { UsageLedger } from '@agent-fleet/state';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, freshNamespace, redisUrl } from '../../../../test/support/stack.ts';
import { captureIo } from '../testing/capture-io.ts';
import { quotasGet, quotasList, quotasRemove, quotasSet } from './quotas.ts';
import { usageCommand } from './usage.ts';

describe('fleet quotas and fleet usage', () => {
  const redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
  const namespace = freshNamespace();
  let env: Record<string, string>;
  let pool: pg.Pool;
  beforeAll(async () => {
    const databaseUrl = await freshDatabase();
    pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    env = {
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl(),
      FLEET_NAMESPACE: namespace,
      FLEET_DIR: '/nonexistent',
    };
  });
  afterAll(async () => {
    await pool.end();
    await redis.quit();
  });

  it('sets a tenant’s quota in Postgres and Redis, changing only what is given', async () => {
    const c = captureIo();
    expect(await quotasSet({ tenant: 'acme', weight: 3, day: 5000 }, c.io, env)).toBe(0);
    expect(await quotasSet({ tenant: 'acme', userMonth: 900, day: null }, c.io, env)).toBe(0);
    expect(c.out.at(-1)).toBe(
      'tenant acme: weight 3; day none; month none; per user: day none, month 900; soft threshold 0.8',
    );
    expect(await redis.hgetall(tenantKeys(namespace, 'acme').limits)).toEqual({
      day: '',
      month: '',
      userDay: '',
      userMonth: '900',
      soft: '0.8',
      weight: '3',
    });
    const list = captureIo();
    expect(await quotasList(list.io, env)).toBe(0);
    expect(list.out[0]).toMatch(/^tenant\s+weight\s+day\s+month\s+user day\s+user month\s+soft$/);
    expect(list.out[1]).toMatch(/^acme\s+3\s+-\s+-\s+-\s+900\s+0\.8$/);
  });

  it('sets, shows and removes a user’s own budgets, with their usage', async () => {
    const c = captureIo();
    expect(await quotasSet({ user: 'ann', day: 100 }, c.io, env)).toBe(0);
    expect(await redis.hgetall(userKeys(namespace, 'ann').quota)).toEqual({ day: '100', month: '' });
    const got = captureIo();
    expect(await quotasGet({ user: 'ann', json: true }, got.io, env)).toBe(0);
    expect(JSON.parse(got.out[0]!)).toMatchObject({
      userId: 'ann',
      day: 100,
      usage: { held: 0, windows: [{ window: 'day', used: 0, limit: 100 }, { window: 'month' }] },
    });
    const rm = captureIo();
    expect(await quotasRemove({ user: 'ann' }, rm.io, env)).toBe(0);
    expect(rm.out).toEqual(['removed']);
    expect(await redis.exists(userKeys(namespace, 'ann').quota)).toBe(0);
  });

  it('refuses a command that names neither or both of a tenant and a user', async () => {
    const c = captureIo();
    expect(await quotasSet({ day: 1 }, c.io, env)).toBe(1);
    expect(await quotasGet({ tenant: 'acme', user: 'ann' }, c.io, env)).toBe(1);
    expect(c.err).toEqual([
      'fleet quotas set: name exactly one of --tenant <tenant> and --user <userId>',
      'fleet quotas get: name exactly one of --tenant <tenant> and --user <userId>',
    ]);
  });

  it('prints the usage report as a table with its total', async () => {
    const ledger = new UsageLedger({ pool });
    const line = (model: string, p: number) => ({
      kind: 'chat' as const,
      model,
      promptTokens: p,
      completionTokens: 10,
      cachedTokens: 0,
      calls: 1,
    });
    await ledger.recordTurn({ turnId: 't_a', userId: 'ann', tenant: 'acme', lines: [line('m1', 1000)] });
    await ledger.recordTurn({ turnId: 't_b', userId: 'bob', tenant: 'acme', lines: [line('m2', 20)] });
    const c = captureIo();
    expect(await usageCommand({ tenant: 'acme', groupBy: 'user' }, c.io, env)).toBe(0);
    expect(c.out).toEqual([
      'user   prompt  cached  completion  total  calls',
      'ann     1,000       0          10  1,010      1',
      'bob        20       0          10     30      1',
      'total   1,020       0          20  1,040      2',
    ]);
    const json = captureIo();
    expect(await usageCommand({ user: 'bob', groupBy: 'model', json: true }, json.io, env)).toBe(0);
    expect(JSON.parse(json.out[0]!)).toMatchObject({ rows: [{ key: 'm2', totalTokens: 30 }] });
  });
});
