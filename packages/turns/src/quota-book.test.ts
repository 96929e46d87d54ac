import { tenantKeys, userKeys, windowSpans } from '@agent-fleet/core';
import { Redis } from 'ioredis';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { freshNamespace, redisUrl } from '../../../test/support/stack.ts';
import { type BudgetHolder, type PerUserLimits, QuotaBook } from './quota-book.ts';
import { usageIncrements, usageLinesOf } from './records.ts';

const redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
afterAll(() => redis.quit());

const later = () => Date.now() + 60_000;

describe('token budgets in Redis (quota Lua, real Redis)', () => {
  let ns: string;
  let book: QuotaBook;
  const tenant: BudgetHolder = { scope: 'tenant', tenant: 'acme' };
  const user = (fallback: PerUserLimits = { day: null, month: null }): BudgetHolder => ({
    scope: 'user',
    userId: 'ann',
    fallback,
  });

  beforeEach(() => {
    ns = freshNamespace();
    book = new QuotaBook({ redis, namespace: ns });
  });

  it('lets calls through while a budget has room, counts what they used, and refuses once used up', async () => {
    await book.putTenant('acme', { weight: 2, day: 1000, month: null, userDay: 300, softThreshold: 0.5 });
    const check = await book.checkTenant('acme');
    expect(check).toEqual({
      ok: true,
      terms: { perUser: { day: 300, month: null }, softThreshold: 0.5, weight: 2 },
    });
    expect((await book.hold(tenant, 'c1', 100, { expireAt: later() })).ok).toBe(true);
    const after = await book.settle(tenant, 'c1', 700);
    expect(after[0]).toMatchObject({ window: 'day', used: 700, limit: 1000 });
    expect(after[1]).toMatchObject({ window: 'month', used: 700, limit: null });
    // 700 used + 300 held = 1000: the next call waits for the holds (busy), a message still gets in.
    expect((await book.hold(tenant, 'c2', 300, { expireAt: later() })).ok).toBe(true);
    expect(await book.hold(tenant, 'c3', 1, { expireAt: later() })).toMatchObject({
      ok: false,
      busy: true,
      refusal: { scope: 'tenant', subject: 'acme', window: 'day', used: 700, limit: 1000 },
    });
    expect((await book.checkTenant('acme')).ok).toBe(true);
    // Released (the call was not made): room for the next call.
    expect(await book.release(tenant, 'c2')).toBe(true);
    expect(await book.release(tenant, 'c2')).toBe(false);
    expect((await book.hold(tenant, 'c3', 1, { expireAt: later() })).ok).toBe(true);
    // It used more than was left: the budget is used up, calls and messages are refused.
    await book.settle(tenant, 'c3', 400);
    const refused = await book.hold(tenant, 'c4', 1, { expireAt: later() });
    expect(refused).toMatchObject({ ok: false, busy: false, refusal: { used: 1100, limit: 1000 } });
    expect(refused.ok ? 0 : refused.refusal.resetAt).toBe(windowSpans(Date.now()).day.resetAt);
    expect((await book.checkTenant('acme')).ok).toBe(false);
  });

  it('a user falls back to the tenant’s per-user budget unless they have their own', async () => {
    const fallback = { day: 50, month: null };
    await book.settle(user(fallback), '', 60);
    expect((await book.hold(user(fallback), 'x', 1, { expireAt: later() })).ok).toBe(false);
    await book.putUser('ann', { day: 100, month: null });
    expect((await book.hold(user(fallback), 'x', 1, { expireAt: later() })).ok).toBe(true);
    await book.putUser('ann', { day: null, month: null });
    expect((await book.status(user(fallback))).windows[0]).toMatchObject({ used: 60, limit: null });
    await book.clearUser('ann');
    expect((await book.status(user(fallback))).windows[0]).toMatchObject({ used: 60, limit: 50 });
  });

  it('a hold whose worker died lapses, so it blocks nobody for long', async () => {
    await book.putTenant('acme', { weight: 1, day: 100, softThreshold: 0.8 });
    expect((await book.hold(tenant, 'dead', 100, { expireAt: Date.now() + 50 })).ok).toBe(true);
    expect(await book.hold(tenant, 'next', 1, { expireAt: later() })).toMatchObject({
      ok: false,
      busy: true,
    });
    await new Promise((r) => setTimeout(r, 80));
    expect((await book.hold(tenant, 'next', 1, { expireAt: later() })).ok).toBe(true);
    await book.release(tenant, 'next');
    expect(await redis.hget(tenantKeys(ns, 'acme').held, '_total')).toBe('0');
  });

  it('settling a user’s call adds its usage to the turn record in the same step', async () => {
    const turnId = 't_1';
    const usage = { promptTokens: 40, completionTokens: 5, cachedTokens: 32 };
    await book.settle(user(), 'h', 45, {
      record: { turnId, increments: usageIncrements('chat', 'm:1', usage) },
    });
    await book.settle(user(), 'h2', 45, {
      record: { turnId, increments: usageIncrements('chat', 'm:1', usage) },
    });
    const fields = await redis.hgetall(userKeys(ns, 'ann').record(turnId));
    expect(usageLinesOf(fields)).toEqual([
      { kind: 'chat', model: 'm:1', promptTokens: 80, completionTokens: 10, cachedTokens: 64, calls: 2 },
    ]);
  });

  it('under concurrent calls a budget is passed by at most one call’s excess per caller', async () => {
    await book.putTenant('acme', { weight: 1, day: 10_000, softThreshold: 0.8 });
    const HOLD = 500;
    const USED = 800;
    // 40 callers each keep calling until refused (waiting while holds take what is left); every
    // call uses more than it held.
    const call = async (i: number): Promise<number> => {
      let calls = 0;
      for (let n = 0; ; n++) {
        const id = `${i}.${n}`;
        const h = await book.hold(tenant, id, HOLD, { expireAt: later() });
        if (!h.ok && h.busy) {
          await new Promise((r) => setTimeout(r, 2));
          continue;
        }
        if (!h.ok) return calls;
        await new Promise((r) => setTimeout(r, Math.random() * 5));
        await book.settle(tenant, id, USED);
        calls++;
      }
    };
    await Promise.all(Array.from({ length: 40 }, (_, i) => call(i)));
    const used = (await book.status(tenant)).windows[0]!.used;
    // Every caller stopped on a refusal: the budget was used up.
    expect(used).toBeGreaterThanOrEqual(10_000);
    // A call is admitted only while used + held < limit, so at most limit / HOLD are in flight at
    // once and the budget is passed by their excess over what they held: less than the 40 calls'
    // worth that admitting on `used < limit` alone would allow (one step per caller).
    expect(used).toBeLessThan(10_000 + Math.ceil(10_000 / HOLD) * (USED - HOLD) + USED);
  });
});
