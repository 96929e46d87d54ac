import { FleetError, type ProfileSettings, profileSettingsSchema } from '@agent-fleet/core';
import type { Pool } from 'pg';
import { z } from 'zod';

/** Tenants and groups end up in SQL arrays, Qdrant payloads and URLs: a conservative alphabet. */
export const TENANT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const GROUP_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;
const MAX_GROUPS = 256;
const MAX_ROLE_CONTEXT = 8_000;

export interface ProfileInput {
  tenant: string;
  groups: string[];
  roleContext?: string;
  /** The agent's settings: model, sampling, enabled tools, double-texting default. */
  settings?: ProfileSettings;
}

/**
 * A stored profile as every reader gets it: from Postgres, from the Redis cache, and over HTTP.
 * Parsing cached copies through it keeps an entry of an older shape from reaching a turn.
 */
export const profileSchema = z.object({
  userId: z.string(),
  tenant: z.string().regex(TENANT_PATTERN),
  groups: z.array(z.string().regex(GROUP_PATTERN)),
  roleContext: z.string().optional(),
  settings: profileSettingsSchema,
  updatedAt: z.string(),
});
export type Profile = z.infer<typeof profileSchema>;

interface Row {
  user_id: string;
  tenant: string;
  groups: string[];
  role_context: string | null;
  settings: unknown;
  updated_at: Date;
}

const toProfile = (r: Row): Profile => ({
  userId: r.user_id,
  tenant: r.tenant,
  groups: r.groups,
  ...(r.role_context === null ? {} : { roleContext: r.role_context }),
  settings: storedSettings(r),
  updatedAt: r.updated_at.toISOString(),
});

/** Settings are checked on the way in; a row that fails here was changed behind the API's back. */
function storedSettings(r: Row): ProfileSettings {
  const parsed = profileSettingsSchema.safeParse(r.settings);
  if (parsed.success) return parsed.data;
  const whose = r.user_id ? `user ${r.user_id}` : `tenant ${r.tenant}'s default`;
  throw new FleetError(
    'internal',
    `the stored profile of ${whose} has invalid settings: ${z.prettifyError(parsed.error)}`,
    {
      retryable: false,
    },
  );
}

/**
 * Checks and normalises a profile (groups de-duplicated, order kept, settings parsed); throws
 * `invalid_request`.
 */
export function validateProfile(input: ProfileInput): ProfileInput {
  const bad = (message: string) => new FleetError('invalid_request', message);
  if (typeof input?.tenant !== 'string' || !TENANT_PATTERN.test(input.tenant))
    throw bad('tenant must be 1-128 characters of letters, digits and ._- starting with a letter or digit');
  if (!Array.isArray(input.groups)) throw bad('groups must be an array of group names');
  if (input.groups.length > MAX_GROUPS) throw bad(`at most ${MAX_GROUPS} groups`);
  for (const g of input.groups)
    if (typeof g !== 'string' || !GROUP_PATTERN.test(g))
      throw bad(`group ${JSON.stringify(g)} must be 1-128 characters of letters, digits and ._:@-`);
  if (input.roleContext !== undefined && typeof input.roleContext !== 'string')
    throw bad('roleContext must be a string');
  if ((input.roleContext?.length ?? 0) > MAX_ROLE_CONTEXT)
    throw bad(`roleContext must be at most ${MAX_ROLE_CONTEXT} characters`);
  const settings = profileSettingsSchema.safeParse(input.settings ?? {});
  if (!settings.success) throw bad(`invalid settings: ${z.prettifyError(settings.error)}`);
  return {
    tenant: input.tenant,
    groups: [...new Set(input.groups)],
    ...(input.roleContext === undefined ? {} : { roleContext: input.roleContext }),
    ...(input.settings === undefined ? {} : { settings: settings.data }),
  };
}

/**
 * Users' profiles in Postgres. The tenant and groups stored here are what retrieval filters are
 * built from; nothing in a chat request can change them.
 */
export class ProfileStore {
  readonly #pool: Pool;

  constructor(opts: { pool: Pool }) {
    this.#pool = opts.pool;
  }

  /** Creates or replaces the profile's tenant, groups and role context; `settings` are kept. */
  async put(userId: string, input: ProfileInput): Promise<Profile> {
    const p = validateProfile(input);
    const res = await this.#pool.query<Row>(
      `INSERT INTO profiles (user_id, tenant, groups, role_context, settings)
       VALUES ($1, $2, $3::text[], $4, $5::jsonb)
       ON CONFLICT (user_id) DO UPDATE
         SET tenant = EXCLUDED.tenant, groups = EXCLUDED.groups, role_context = EXCLUDED.role_context,
             settings = COALESCE($6::jsonb, profiles.settings), updated_at = now()
       RETURNING user_id, tenant, groups, role_context, settings, updated_at`,
      [
        userId,
        p.tenant,
        p.groups,
        p.roleContext ?? null,
        JSON.stringify(p.settings ?? {}),
        p.settings ? JSON.stringify(p.settings) : null,
      ],
    );
    return toProfile(res.rows[0]!);
  }

  async get(userId: string): Promise<Profile | null> {
    const res = await this.#pool.query<Row>(
      'SELECT user_id, tenant, groups, role_context, settings, updated_at FROM profiles WHERE user_id = $1',
      [userId],
    );
    const row = res.rows[0];
    return row ? toProfile(row) : null;
  }

  /** The profile a tenant gives users who have none of their own (groups, role, settings). */
  async putTenantDefault(tenant: string, input: Omit<ProfileInput, 'tenant'>): Promise<Profile> {
    const p = validateProfile({ ...input, tenant });
    const res = await this.#pool.query<Omit<Row, 'user_id'>>(
      `INSERT INTO tenant_profiles (tenant, groups, role_context, settings) VALUES ($1, $2::text[], $3, $4::jsonb)
       ON CONFLICT (tenant) DO UPDATE SET groups = EXCLUDED.groups, role_context = EXCLUDED.role_context,
         settings = EXCLUDED.settings, updated_at = now()
       RETURNING tenant, groups, role_context, settings, updated_at`,
      [tenant, p.groups, p.roleContext ?? null, JSON.stringify(p.settings ?? {})],
    );
    return toProfile({ ...res.rows[0]!, user_id: '' });
  }

  async getTenantDefault(tenant: string): Promise<Profile | null> {
    const res = await this.#pool.query<Omit<Row, 'user_id'>>(
      'SELECT tenant, groups, role_context, settings, updated_at FROM tenant_profiles WHERE tenant = $1',
      [tenant],
    );
    const row = res.rows[0];
    return row ? toProfile({ ...row, user_id: '' }) : null;
  }

  /**
   * The profile a user's agent runs with: the user's own, else (with `defaultTenant`) that tenant's
   * default, under the user's id; null when neither exists.
   */
  async resolve(userId: string, defaultTenant?: string): Promise<Profile | null> {
    const own = await this.get(userId);
    if (own || !defaultTenant) return own;
    const fallback = await this.getTenantDefault(defaultTenant);
    return fallback ? { ...fallback, userId } : null;
  }

  /** Idempotent; resolves whether a profile was there. */
  async delete(userId: string): Promise<boolean> {
    const res = await this.#pool.query('DELETE FROM profiles WHERE user_id = $1', [userId]);
    return (res.rowCount ?? 0) > 0;
  }
}
