import type { UsageLine } from '@agent-fleet/core';
import { describe, expect, it } from 'vitest';
import { onFreshDatabase } from '../../../test/support/postgres.ts';
import { QuotaStore } from './quotas.ts';
import { Transcript } from './transcript.ts';
import { UsageLedger } from './usage-ledger.ts';

const line = (kind: UsageLine['kind'], model: string, p: number, c: number, calls = 1): UsageLine => ({
  kind,
  model,
  promptTokens: p,
  completionTokens: c,
  cachedTokens: Math.floor(p / 2),
  calls,
});

describe('usage ledger and quotas (real Postgres)', () => {
  const db = onFreshDatabase((pool) => ({ ledger: new UsageLedger({ pool }) }));

  it('records a turn’s usage with its transcript row, and a later write only ever grows it', async () => {
    const transcript = new Transcript({ pool: db.pool });
    const turnId = `t_${'a'.repeat(32)}`;
    const row = {
      turnId,
      userId: 'ann',
      seq: 1,
      status: 'completed' as const,
      enqueuedAt: 1000,
      completedAt: 2000,
      messages: [{ role: 'user' as const, content: 'hi' }],
      usage: { tenant: 'acme', lines: [line('chat', 'm', 100, 10, 2), line('embedding', 'e', 7, 0)] },
    };
    expect(await transcript.record(row)).toBe(true);
    // Recorded again after a crash: nothing doubles.
    expect(await transcript.record(row)).toBe(false);
    // A summary the turn triggered is added later; an older total arriving late lowers nothing.
    await db.ledger.recordTurn({
      turnId,
      userId: 'ann',
      tenant: 'acme',
      lines: [line('chat', 'm', 100, 10, 2), line('summary', 'm', 50, 20)],
    });
    await db.ledger.recordTurn({
      turnId,
      userId: 'ann',
      tenant: 'acme',
      lines: [line('chat', 'm', 90, 9, 1)],
    });
    expect(await db.ledger.turnLines(turnId)).toEqual([
      line('chat', 'm', 100, 10, 2),
      line('embedding', 'e', 7, 0),
      line('summary', 'm', 50, 20),
    ]);
  });

  it('reports usage in a range, of a tenant or a user, by day, user or model', async () => {
    const now = Date.now();
    await db.ledger.recordTurn({
      turnId: 't_r1',
      userId: 'bo',
      tenant: 'beta',
      lines: [line('chat', 'm1', 10, 5)],
    });
    await db.ledger.recordTurn({
      turnId: 't_r2',
      userId: 'cy',
      tenant: 'beta',
      lines: [line('chat', 'm2', 20, 5)],
    });
    const call = {
      callId: 'call-1',
      kind: 'review',
      model: 'm1',
      tenant: 'beta',
      userId: 'bo',
      promptTokens: 30,
      completionTokens: 3,
      cachedTokens: 0,
    } as const;
    // Recorded twice (a retried write): it counts once.
    await db.ledger.recordCall(call);
    await db.ledger.recordCall(call);
    const range = { from: now - 60_000, to: now + 60_000 };
    const byUser = await db.ledger.report({ ...range, tenant: 'beta', groupBy: 'user' });
    expect(byUser.rows.map((r) => [r.key, r.totalTokens, r.calls])).toEqual([
      ['bo', 48, 2],
      ['cy', 25, 1],
    ]);
    expect(byUser.total).toMatchObject({ promptTokens: 60, completionTokens: 13, totalTokens: 73, calls: 3 });
    const byModel = await db.ledger.report({ ...range, userId: 'bo', groupBy: 'model' });
    expect(byModel.rows.map((r) => [r.key, r.totalTokens])).toEqual([['m1', 48]]);
    const byDay = await db.ledger.report({ ...range, tenant: 'beta', groupBy: 'day' });
    expect(byDay.rows).toHaveLength(1);
    expect(byDay.rows[0]!.key).toBe(new Date(now).toISOString().slice(0, 10));
    expect((await db.ledger.report({ from: now + 60_000, to: now + 120_000, groupBy: 'day' })).rows).toEqual(
      [],
    );
  });

  it('keeps tenants’ and users’ quotas, with defaults, and refuses bad values naming the field', async () => {
    const quotas = new QuotaStore({ pool: db.pool });
    expect(await quotas.putTenant('acme', { day: 1000, userDay: 100 })).toMatchObject({
      tenant: 'acme',
      weight: 1,
      day: 1000,
      month: null,
      userDay: 100,
      softThreshold: 0.8,
    });
    expect(await quotas.putTenant('acme', { weight: 3 })).toMatchObject({ weight: 3, day: null });
    expect((await quotas.listTenants()).map((q) => q.tenant)).toEqual(['acme']);
    await expect(quotas.putTenant('acme', { day: -5 })).rejects.toMatchObject({
      code: 'invalid_request',
      details: { issues: [{ field: 'day' }] },
    });
    expect(await quotas.putUser('ann', { month: 50 })).toMatchObject({ userId: 'ann', day: null, month: 50 });
    expect((await quotas.listUsers()).map((q) => q.userId)).toEqual(['ann']);
    expect(await quotas.deleteUser('ann')).toBe(true);
    expect(await quotas.getUser('ann')).toBeNull();
    expect(await quotas.deleteTenant('acme')).toBe(true);
    expect(await quotas.deleteTenant('acme')).toBe(false);
  });
});
