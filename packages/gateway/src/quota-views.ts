import { DEFAULT_TENANT_QUOTA, type TenantQuota, type UserQuota } from '@agent-fleet/core';
import type { StoredTenantQuota } from '@agent-fleet/state';
import type { BudgetHolder, BudgetStatus, PerUserLimits } from '@agent-fleet/turns';
import type { z } from 'zod';
import type { GatewayDeps } from './deps.ts';
import type { tenantQuotaViewSchema, userQuotaViewSchema } from './schemas.ts';

type QuotaDeps = Pick<GatewayDeps, 'quotas' | 'budgets' | 'profileCache'>;

const iso = (ms: number) => new Date(ms).toISOString();

function usageView(s: BudgetStatus) {
  const [day, month] = s.windows;
  const w = (u: NonNullable<typeof day>) => ({ used: u.used, limit: u.limit, resetAt: iso(u.resetAt) });
  return { day: w(day!), month: w(month!), held: s.held };
}

/** Writes a tenant's quota to Postgres, then to Redis where the checks read it (the sync repairs a miss). */
export async function putTenantQuota(
  deps: QuotaDeps,
  tenant: string,
  input: unknown,
): Promise<StoredTenantQuota> {
  const stored = await deps.quotas.putTenant(tenant, input);
  await deps.budgets.putTenant(tenant, stored);
  return stored;
}

/** A tenant's quota (its defaults when it has none) and its budgets' usage now. */
export async function tenantQuotaView(
  deps: QuotaDeps,
  tenant: string,
): Promise<z.infer<typeof tenantQuotaViewSchema>> {
  const stored = await deps.quotas.getTenant(tenant);
  const q: TenantQuota = stored ?? DEFAULT_TENANT_QUOTA;
  const status = await deps.budgets.status({ scope: 'tenant', tenant });
  return {
    tenant,
    weight: q.weight,
    day: q.day ?? null,
    month: q.month ?? null,
    userDay: q.userDay ?? null,
    userMonth: q.userMonth ?? null,
    softThreshold: q.softThreshold,
    updatedAt: stored?.updatedAt ?? null,
    usage: usageView(status),
  };
}

/**
 * A user's budgets as they apply (their own, else their tenant's per-user ones; the tenant from
 * their profile) and their usage now.
 */
export async function userQuotaView(
  deps: QuotaDeps,
  userId: string,
): Promise<z.infer<typeof userQuotaViewSchema>> {
  const [own, profile] = await Promise.all([deps.quotas.getUser(userId), deps.profileCache.get(userId)]);
  const tenant = profile?.tenant ?? null;
  const tenantQuota = tenant ? await deps.quotas.getTenant(tenant) : null;
  const fallback: PerUserLimits = {
    day: tenantQuota?.userDay ?? null,
    month: tenantQuota?.userMonth ?? null,
  };
  const q: UserQuota = own ?? fallback;
  const holder: BudgetHolder = { scope: 'user', userId, fallback };
  return {
    userId,
    tenant,
    day: q.day ?? null,
    month: q.month ?? null,
    own: own !== null,
    updatedAt: own?.updatedAt ?? null,
    usage: usageView(await deps.budgets.status(holder)),
  };
}
