import { z } from 'zod';
import { FleetError } from './errors.ts';

/** Budgets run over calendar windows in UTC: a day, a month. */
export const QUOTA_WINDOWS = ['day', 'month'] as const;
export type QuotaWindow = (typeof QUOTA_WINDOWS)[number];

/** One window as of a moment: its id (part of the counter's key), when it resets, how long to keep it. */
export interface WindowSpan {
  window: QuotaWindow;
  /** `d20250131` or `m202501`: a counter per window, so a new window starts at 0 by itself. */
  id: string;
  /** Epoch ms of the next window's start. */
  resetAt: number;
  /** Seconds a counter of this window is kept: past its end, for the usage reports of the days after. */
  ttlSeconds: number;
}

const KEEP_AFTER_END_SECONDS = 3 * 86_400;
const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** The day and the month `now` falls in (UTC). */
export function windowSpans(now: number): Record<QuotaWindow, WindowSpan> {
  const d = new Date(now);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  const nextDay = Date.UTC(y, m, d.getUTCDate() + 1);
  const nextMonth = Date.UTC(y, m + 1, 1);
  const ttl = (end: number) => Math.ceil((end - now) / 1000) + KEEP_AFTER_END_SECONDS;
  return {
    day: {
      window: 'day',
      id: `d${y}${pad(m + 1)}${pad(d.getUTCDate())}`,
      resetAt: nextDay,
      ttlSeconds: ttl(nextDay),
    },
    month: { window: 'month', id: `m${y}${pad(m + 1)}`, resetAt: nextMonth, ttlSeconds: ttl(nextMonth) },
  };
}

const limit = z
  .number()
  .int()
  .min(1)
  .max(1e15)
  .nullable()
  .optional()
  .describe('tokens (prompt + completion) per window; null or absent: no limit');

/**
 * A tenant's share of the fleet and its budgets: its weight in the fair queues, its own token
 * budgets per day and month, the budgets each of its users gets unless they have their own, and
 * the share of a budget at which a soft-threshold event fires.
 */
export const tenantQuotaSchema = z.object({
  weight: z
    .number()
    .min(0.01)
    .max(1000)
    .default(1)
    .describe('share of the fleet when tenants compete (default 1): weights 3 and 1 get 3:1 of the tokens'),
  day: limit,
  month: limit,
  userDay: limit.describe('per-user tokens per day for users of the tenant without a budget of their own'),
  userMonth: limit.describe('per-user tokens per month, likewise'),
  softThreshold: z
    .number()
    .gt(0)
    .max(1)
    .default(0.8)
    .describe('share of a budget whose crossing emits a soft-threshold event (default 0.8)'),
});
export type TenantQuota = z.infer<typeof tenantQuotaSchema>;

/** A user's own budgets, which take the place of their tenant's per-user ones. */
export const userQuotaSchema = z.object({ day: limit, month: limit });
export type UserQuota = z.infer<typeof userQuotaSchema>;

/** The defaults of a tenant without a quota: weight 1, no limits. */
export const DEFAULT_TENANT_QUOTA: TenantQuota = tenantQuotaSchema.parse({});

/** Whose budget: the tenant's, or one user's. */
export type QuotaScope = 'tenant' | 'user';

/** Which budget refused, and until when. */
export interface QuotaRefusal {
  scope: QuotaScope;
  /** The tenant's name, or the user's id. */
  subject: string;
  window: QuotaWindow;
  used: number;
  limit: number;
  resetAt: number;
}

/**
 * The one error of an exhausted budget: `429 quota_exceeded` with `details.resetAt` at intake, the
 * reason a turn that ran out ends failed with. Never retried (trying again before `resetAt` cannot
 * help).
 */
export function quotaExceeded(r: QuotaRefusal): FleetError {
  const whose = r.scope === 'tenant' ? `tenant ${r.subject}` : `user ${r.subject}`;
  const resetAt = new Date(r.resetAt).toISOString();
  return new FleetError(
    'quota_exceeded',
    `quota_exceeded: the ${r.window === 'day' ? 'daily' : 'monthly'} token budget of ${whose} is used up (${r.used} of ${r.limit}); it resets at ${resetAt}`,
    {
      retryable: false,
      details: {
        scope: r.scope,
        subject: r.subject,
        window: r.window,
        used: r.used,
        limit: r.limit,
        resetAt,
      },
    },
  );
}
