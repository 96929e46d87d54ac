import {
  type QuotaKeys,
  type QuotaRefusal,
  type QuotaScope,
  type QuotaWindow,
  RedisStore,
  type TenantQuota,
  tenantKeys,
  type UserQuota,
  userKeys,
  userQuotaKeys,
  windowSpans,
} from '@agent-fleet/core';
import { scripts } from './lua.ts';

/** Whose budgets: a tenant's, or a user's (with their tenant's per-user budgets to fall back to). */
export type BudgetHolder =
  | { scope: 'tenant'; tenant: string }
  | { scope: 'user'; userId: string; fallback: PerUserLimits };

/** The per-user budgets a tenant gives users without their own (null: none). */
export interface PerUserLimits {
  day: number | null;
  month: number | null;
}

/** What a tenant's budget check returns besides the verdict: what its users and its fair share are. */
export interface TenantTerms {
  perUser: PerUserLimits;
  softThreshold: number;
  weight: number;
}

export const DEFAULT_TERMS: TenantTerms = {
  perUser: { day: null, month: null },
  softThreshold: 0.8,
  weight: 1,
};

/**
 * A budget check's verdict. Refused and `busy`: the budget is not used up, but calls in flight hold
 * what is left of it; try again when they settle. Refused and not busy: used up until `resetAt`.
 */
export type BudgetCheck =
  | { ok: true; terms: TenantTerms }
  | { ok: false; refusal: QuotaRefusal; busy: boolean };

/** A window's counter after a settle: tokens used and the limit (null: none). */
export interface WindowUse {
  window: QuotaWindow;
  used: number;
  limit: number | null;
  resetAt: number;
}

/** What the admin API shows of a holder's budgets now. */
export interface BudgetStatus {
  held: number;
  windows: WindowUse[];
}

type Reply = [number, string | number, string | number, string | number, (string | number)?];

/**
 * The token budgets in Redis (quotas are copied here from Postgres): each holder's limits and
 * counters live in its own slot, `{t:<tenant>}` or `{u:<userId>}`, and every check or change is one
 * Lua script in one slot, so the layout works on Redis Cluster.
 *
 * A check that spans a tenant and a user is two scripts, in this order, and each refuses before it
 * writes anything that counts:
 * - accepting a message: the tenant's budgets are checked (`checkTenant`, which holds nothing), then
 *   the accept script checks the user's and hands out the seq in one step. A refusal by either
 *   leaves nothing behind: no seq, no job, nothing held.
 * - a model call: the tenant holds tokens for it (`hold`), then the user; when the user's budget
 *   refuses, the tenant's hold is released at once (`release`), and a hold whose worker died
 *   lapses by itself (`expireAt`). `settle` replaces a hold by the call's real usage.
 * A budget is used up when used >= limit; a message is refused then. A call is let through only
 * while used + held < limit (it waits while calls in flight hold the rest), so calls running at once
 * cannot all pass a budget that has room left for one: a budget is passed by at most what the calls
 * in flight as it ran out used beyond what they held.
 */
export class QuotaBook extends RedisStore {
  /** Whether the tenant's budgets have room, holding nothing (the tenant's part of an accept). */
  async checkTenant(tenant: string, now = Date.now()): Promise<BudgetCheck> {
    const keys = this.#keys({ scope: 'tenant', tenant }, now);
    const reply = (await scripts.quotaCheck.run(this.redis, keys, [now])) as Reply;
    return this.#verdict({ scope: 'tenant', tenant }, reply, now);
  }

  /**
   * Holds `tokens` of the holder's budgets for a call, unless one is used up (or, `busy`, taken by
   * the holds of calls in flight).
   */
  async hold(
    holder: BudgetHolder,
    id: string,
    tokens: number,
    opts: { now?: number; expireAt: number },
  ): Promise<BudgetCheck> {
    const now = opts.now ?? Date.now();
    const reply = (await scripts.quotaHold.run(this.redis, this.#keys(holder, now), [
      id,
      Math.max(0, Math.round(tokens)),
      opts.expireAt,
      now,
      ...fallbackArgs(holder),
    ])) as Reply;
    return this.#verdict(holder, reply, now);
  }

  /** Gives a hold back (the call was not made); false when it was settled or had lapsed. */
  async release(holder: BudgetHolder, id: string): Promise<boolean> {
    const k = this.#holderKeys(holder);
    return (await scripts.quotaRelease.run(this.redis, [k.held, k.heldExpiry], [id])) === 1;
  }

  /**
   * Counts `tokens` a call used in the holder's windows, releasing its hold (`id`, '' for none);
   * for a user's call of a turn, adds `record` increments to the turn's record in the same step.
   */
  async settle(
    holder: BudgetHolder,
    id: string,
    tokens: number,
    opts: { now?: number; record?: { turnId: string; increments: [string, number][] } } = {},
  ): Promise<WindowUse[]> {
    const now = opts.now ?? Date.now();
    const spans = windowSpans(now);
    const keys = this.#keys(holder, now);
    const record =
      holder.scope === 'user' && opts.record
        ? userKeys(this.namespace, holder.userId).record(opts.record.turnId)
        : keys[0]!;
    const [day, month, dayLimit, monthLimit] = (await scripts.quotaSettle.run(
      this.redis,
      [...keys, record],
      [
        id,
        Math.max(0, Math.round(tokens)),
        spans.day.ttlSeconds,
        spans.month.ttlSeconds,
        ...fallbackArgs(holder),
        ...(opts.record?.increments.flat() ?? []),
      ],
    )) as [number, number, number, number];
    return [
      { window: 'day', used: day, limit: dayLimit < 0 ? null : dayLimit, resetAt: spans.day.resetAt },
      {
        window: 'month',
        used: month,
        limit: monthLimit < 0 ? null : monthLimit,
        resetAt: spans.month.resetAt,
      },
    ];
  }

  /** Tokens used and limits in the current windows, and what calls in flight hold. */
  async status(holder: BudgetHolder, now = Date.now()): Promise<BudgetStatus> {
    const spans = windowSpans(now);
    const [limitsKey, dayKey, monthKey, heldKey] = this.#keys(holder, now);
    const [limits, day, month, held] = await Promise.all([
      this.redis.hmget(limitsKey!, 'day', 'month'),
      this.redis.get(dayKey!),
      this.redis.get(monthKey!),
      this.redis.hget(heldKey!, '_total'),
    ]);
    const fb = holder.scope === 'user' ? holder.fallback : { day: null, month: null };
    const limitOf = (v: string | null, fallback: number | null) =>
      v === null ? fallback : v === '' ? null : Number(v);
    return {
      held: Number(held ?? 0),
      windows: [
        {
          window: 'day',
          used: Number(day ?? 0),
          limit: limitOf(limits[0]!, fb.day),
          resetAt: spans.day.resetAt,
        },
        {
          window: 'month',
          used: Number(month ?? 0),
          limit: limitOf(limits[1]!, fb.month),
          resetAt: spans.month.resetAt,
        },
      ],
    };
  }

  /** Makes `q` the tenant's quota in Redis (every field written, '' for none). */
  async putTenant(tenant: string, q: TenantQuota): Promise<void> {
    const key = tenantKeys(this.namespace, tenant).limits;
    await this.redis.hset(key, {
      day: q.day ?? '',
      month: q.month ?? '',
      userDay: q.userDay ?? '',
      userMonth: q.userMonth ?? '',
      soft: q.softThreshold,
      weight: q.weight,
    });
  }

  /** The tenant is back to the defaults: weight 1, no limits. */
  async clearTenant(tenant: string): Promise<void> {
    await this.redis.del(tenantKeys(this.namespace, tenant).limits);
  }

  /** Makes `q` the user's own budgets, in place of the tenant's per-user ones. */
  async putUser(userId: string, q: UserQuota): Promise<void> {
    await this.redis.hset(userKeys(this.namespace, userId).quota, {
      day: q.day ?? '',
      month: q.month ?? '',
    });
  }

  /** The user is back to the tenant's per-user budgets. */
  async clearUser(userId: string): Promise<void> {
    await this.redis.del(userKeys(this.namespace, userId).quota);
  }

  #holderKeys(holder: BudgetHolder): QuotaKeys {
    return holder.scope === 'tenant'
      ? tenantKeys(this.namespace, holder.tenant)
      : userQuotaKeys(this.namespace, holder.userId);
  }

  /** limits, used today, used this month, held, held-expiry: the keys every quota script takes. */
  #keys(holder: BudgetHolder, now: number): string[] {
    const k = this.#holderKeys(holder);
    const spans = windowSpans(now);
    return [k.limits, k.used(spans.day.id), k.used(spans.month.id), k.held, k.heldExpiry];
  }

  #verdict(holder: BudgetHolder, reply: Reply, now: number): BudgetCheck {
    if (reply[0] === 1) return { ok: true, terms: termsOf(reply) };
    const window = String(reply[1]) as QuotaWindow;
    return {
      ok: false,
      busy: reply[4] === 'held',
      refusal: {
        scope: holder.scope as QuotaScope,
        subject: holder.scope === 'tenant' ? holder.tenant : holder.userId,
        window,
        used: Number(reply[2]),
        limit: Number(reply[3]),
        resetAt: windowSpans(now)[window].resetAt,
      },
    };
  }
}

/** The fallback limits a user's scripts take: the tenant's per-user ones ('' for none). */
function fallbackArgs(holder: BudgetHolder): [string | number, string | number] {
  if (holder.scope === 'tenant') return ['', ''];
  return [holder.fallback.day ?? '', holder.fallback.month ?? ''];
}

function termsOf(reply: Reply): TenantTerms {
  const num = (v: unknown) => (v === undefined || v === '' ? null : Number(v));
  return {
    perUser: { day: num(reply[1]), month: num(reply[2]) },
    softThreshold: num(reply[3]) ?? DEFAULT_TERMS.softThreshold,
    weight: num(reply[4]) ?? DEFAULT_TERMS.weight,
  };
}
