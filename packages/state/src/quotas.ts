import {
  FleetError,
  type TenantQuota,
  tenantQuotaSchema,
  type UserQuota,
  userQuotaSchema,
} from '@agent-fleet/core';
import type { Pool } from 'pg';
import { z } from 'zod';
import { TENANT_PATTERN } from './profiles.ts';

export interface StoredTenantQuota extends TenantQuota {
  tenant: string;
  updatedAt: string;
}

export interface StoredUserQuota extends UserQuota {
  userId: string;
  updatedAt: string;
}

interface TenantRow {
  tenant: string;
  weight: number;
  day_limit: string | null;
  month_limit: string | null;
  user_day_limit: string | null;
  user_month_limit: string | null;
  soft_threshold: number;
  updated_at: Date;
}

interface UserRow {
  user_id: string;
  day_limit: string | null;
  month_limit: string | null;
  updated_at: Date;
}

const limit = (v: string | null) => (v === null ? null : Number(v));

const toTenant = (r: TenantRow): StoredTenantQuota => ({
  tenant: r.tenant,
  weight: r.weight,
  day: limit(r.day_limit),
  month: limit(r.month_limit),
  userDay: limit(r.user_day_limit),
  userMonth: limit(r.user_month_limit),
  softThreshold: r.soft_threshold,
  updatedAt: r.updated_at.toISOString(),
});

const toUser = (r: UserRow): StoredUserQuota => ({
  userId: r.user_id,
  day: limit(r.day_limit),
  month: limit(r.month_limit),
  updatedAt: r.updated_at.toISOString(),
});

const TENANT_COLUMNS =
  'tenant, weight, day_limit, month_limit, user_day_limit, user_month_limit, soft_threshold, updated_at';

/** Parses with `schema` or refuses with `invalid_request` naming each bad field. */
function valid<T>(schema: z.ZodType<T>, input: unknown): T {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new FleetError('invalid_request', `invalid quota: ${z.prettifyError(parsed.error)}`, {
    details: { issues: parsed.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message })) },
  });
}

/**
 * Tenants' and users' quotas in Postgres, the durable copy (the admin API and `fleet quotas` write
 * here, then into Redis, where the checks read them; workers copy all of them into Redis again
 * periodically, so Redis that lost its data gets them back).
 */
export class QuotaStore {
  readonly #pool: Pool;

  constructor(opts: { pool: Pool }) {
    this.#pool = opts.pool;
  }

  /** Creates or replaces the tenant's quota; what `input` leaves out takes its default. */
  async putTenant(tenant: string, input: unknown): Promise<StoredTenantQuota> {
    if (!TENANT_PATTERN.test(tenant))
      throw new FleetError('invalid_request', 'tenant must be 1-128 characters of letters, digits and ._-');
    const q = valid(tenantQuotaSchema, input);
    const res = await this.#pool.query<TenantRow>(
      `INSERT INTO tenant_quotas (tenant, weight, day_limit, month_limit, user_day_limit, user_month_limit, soft_threshold)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (tenant) DO UPDATE SET weight = EXCLUDED.weight, day_limit = EXCLUDED.day_limit,
         month_limit = EXCLUDED.month_limit, user_day_limit = EXCLUDED.user_day_limit,
         user_month_limit = EXCLUDED.user_month_limit, soft_threshold = EXCLUDED.soft_threshold, updated_at = now()
       RETURNING ${TENANT_COLUMNS}`,
      [
        tenant,
        q.weight,
        q.day ?? null,
        q.month ?? null,
        q.userDay ?? null,
        q.userMonth ?? null,
        q.softThreshold,
      ],
    );
    return toTenant(res.rows[0]!);
  }

  async getTenant(tenant: string): Promise<StoredTenantQuota | null> {
    const res = await this.#pool.query<TenantRow>(
      `SELECT ${TENANT_COLUMNS} FROM tenant_quotas WHERE tenant = $1`,
      [tenant],
    );
    return res.rows[0] ? toTenant(res.rows[0]) : null;
  }

  /** Back to the defaults (weight 1, no limits); resolves whether there was a quota. */
  async deleteTenant(tenant: string): Promise<boolean> {
    return (
      ((await this.#pool.query('DELETE FROM tenant_quotas WHERE tenant = $1', [tenant])).rowCount ?? 0) > 0
    );
  }

  async listTenants(): Promise<StoredTenantQuota[]> {
    const res = await this.#pool.query<TenantRow>(
      `SELECT ${TENANT_COLUMNS} FROM tenant_quotas ORDER BY tenant`,
    );
    return res.rows.map(toTenant);
  }

  async putUser(userId: string, input: unknown): Promise<StoredUserQuota> {
    const q = valid(userQuotaSchema, input);
    const res = await this.#pool.query<UserRow>(
      `INSERT INTO user_quotas (user_id, day_limit, month_limit) VALUES ($1, $2, $3)
       ON CONFLICT (user_id) DO UPDATE SET day_limit = EXCLUDED.day_limit, month_limit = EXCLUDED.month_limit,
         updated_at = now()
       RETURNING user_id, day_limit, month_limit, updated_at`,
      [userId, q.day ?? null, q.month ?? null],
    );
    return toUser(res.rows[0]!);
  }

  async getUser(userId: string): Promise<StoredUserQuota | null> {
    const res = await this.#pool.query<UserRow>(
      'SELECT user_id, day_limit, month_limit, updated_at FROM user_quotas WHERE user_id = $1',
      [userId],
    );
    return res.rows[0] ? toUser(res.rows[0]) : null;
  }

  /** Back to the tenant's per-user budgets; resolves whether there was a quota. */
  async deleteUser(userId: string): Promise<boolean> {
    return (
      ((await this.#pool.query('DELETE FROM user_quotas WHERE user_id = $1', [userId])).rowCount ?? 0) > 0
    );
  }

  /** Users' quotas in userId order, `limit` at a time after `after` (a cursor for the sync). */
  async listUsers(opts: { after?: string; limit?: number } = {}): Promise<StoredUserQuota[]> {
    const res = await this.#pool.query<UserRow>(
      `SELECT user_id, day_limit, month_limit, updated_at FROM user_quotas
       WHERE user_id > $1 ORDER BY user_id LIMIT $2`,
      [opts.after ?? '', opts.limit ?? 1000],
    );
    return res.rows.map(toUser);
  }
}
