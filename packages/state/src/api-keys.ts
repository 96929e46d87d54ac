import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { FleetError } from '@agent-fleet/core';
import type { Pool } from 'pg';
import type { ApiKeyRevocations } from './api-key-revocations.ts';
import { TENANT_PATTERN } from './profiles.ts';

/** What a service key may do. `admin` implies every other scope. */
export const API_KEY_SCOPES = [
  'messages:write',
  'turns:read',
  'documents:write',
  'reviews',
  'admin',
] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

export function isApiKeyScope(value: string): value is ApiKeyScope {
  return (API_KEY_SCOPES as readonly string[]).includes(value);
}

export interface ApiKeyInput {
  /** What the key is for, shown by `fleet keys list`. */
  name: string;
  scopes: ApiKeyScope[];
  /** Confines the key to one tenant's documents. */
  tenant?: string;
  /** May call the per-user routes (messages, turns, history, profile) for any user. */
  actAsUsers?: boolean;
}

export interface ApiKey {
  id: string;
  name: string;
  scopes: ApiKeyScope[];
  tenant?: string;
  actAsUsers: boolean;
  createdAt: string;
  revokedAt?: string;
}

/** A key just created: `key` is the only time the secret is ever seen. */
export interface CreatedApiKey extends ApiKey {
  key: string;
}

export type RevokeResult = 'revoked' | 'already-revoked' | 'not-found';

/** `fk_<16 hex id>_<43 base64url secret>`: the id finds the row, the secret proves possession. */
const KEY_PATTERN = /^fk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
export const API_KEY_ID_PATTERN = /^[0-9a-f]{16}$/;

/** Splits a presented key; null when it does not have the shape of a fleet key. */
export function parseApiKey(token: string): { id: string; secret: string } | null {
  const m = KEY_PATTERN.exec(token);
  return m ? { id: m[1]!, secret: m[2]! } : null;
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();

interface Row {
  id: string;
  name: string;
  scopes: string[];
  tenant: string | null;
  act_as_users: boolean;
  created_at: Date;
  revoked_at: Date | null;
}

const COLUMNS = 'id, name, scopes, tenant, act_as_users, created_at, revoked_at';

const toKey = (r: Row): ApiKey => ({
  id: r.id,
  name: r.name,
  scopes: r.scopes.filter(isApiKeyScope),
  ...(r.tenant === null ? {} : { tenant: r.tenant }),
  actAsUsers: r.act_as_users,
  createdAt: r.created_at.toISOString(),
  ...(r.revoked_at === null ? {} : { revokedAt: r.revoked_at.toISOString() }),
});

/** Checks a key request; throws `invalid_request` naming the field. Scopes are de-duplicated. */
export function validateApiKeyInput(input: ApiKeyInput): ApiKeyInput {
  const bad = (message: string) => new FleetError('invalid_request', message);
  if (typeof input.name !== 'string' || !/^[\x20-\x7e]{1,100}$/.test(input.name) || !input.name.trim())
    throw bad('name must be 1-100 printable ASCII characters');
  if (!Array.isArray(input.scopes) || input.scopes.length === 0)
    throw bad(`give at least one scope (${API_KEY_SCOPES.join(', ')})`);
  const unknown = input.scopes.filter((s) => !isApiKeyScope(s));
  if (unknown.length > 0)
    throw bad(
      `unknown scope ${unknown.map((s) => JSON.stringify(s)).join(', ')}; use ${API_KEY_SCOPES.join(', ')}`,
    );
  if (input.tenant !== undefined && !TENANT_PATTERN.test(input.tenant))
    throw bad('tenant must be 1-128 characters of letters, digits and ._- starting with a letter or digit');
  return {
    name: input.name,
    scopes: [...new Set(input.scopes)],
    ...(input.tenant === undefined ? {} : { tenant: input.tenant }),
    actAsUsers: input.actAsUsers === true,
  };
}

/**
 * Service API keys in Postgres, stored hashed. `verify` answers the same `null` for a malformed,
 * unknown, revoked or wrong key, and compares hashes in constant time. Given `revocations`, each
 * revocation is also announced to the gateways, which drop the key from their caches at once.
 */
export class ApiKeyStore {
  readonly #pool: Pool;
  readonly #revocations: Pick<ApiKeyRevocations, 'publish'> | undefined;

  constructor(opts: { pool: Pool; revocations?: Pick<ApiKeyRevocations, 'publish'> }) {
    this.#pool = opts.pool;
    this.#revocations = opts.revocations;
  }

  async create(input: ApiKeyInput): Promise<CreatedApiKey> {
    const k = validateApiKeyInput(input);
    const id = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const res = await this.#pool.query<Row>(
      `INSERT INTO api_keys (id, name, secret_hash, scopes, tenant, act_as_users)
       VALUES ($1, $2, $3, $4::text[], $5, $6) RETURNING ${COLUMNS}`,
      [id, k.name, sha256(secret), k.scopes, k.tenant ?? null, k.actAsUsers === true],
    );
    return { ...toKey(res.rows[0]!), key: `fk_${id}_${secret}` };
  }

  /** Every key, newest first; revoked ones only when asked. */
  async list(opts: { includeRevoked?: boolean } = {}): Promise<ApiKey[]> {
    const res = await this.#pool.query<Row>(
      `SELECT ${COLUMNS} FROM api_keys ${opts.includeRevoked ? '' : 'WHERE revoked_at IS NULL'}
       ORDER BY created_at DESC, id`,
    );
    return res.rows.map(toKey);
  }

  async get(id: string): Promise<ApiKey | null> {
    if (!API_KEY_ID_PATTERN.test(id)) return null;
    const res = await this.#pool.query<Row>(`SELECT ${COLUMNS} FROM api_keys WHERE id = $1`, [id]);
    return res.rows[0] ? toKey(res.rows[0]) : null;
  }

  /**
   * Revoking is idempotent; a revoked key never verifies again. The announcement follows the
   * update, also for a key already revoked, so revoking again repairs an announcement that failed
   * (it throws then, with the key revoked in Postgres).
   */
  async revoke(id: string): Promise<RevokeResult> {
    if (!API_KEY_ID_PATTERN.test(id)) return 'not-found';
    const res = await this.#pool.query<{ revoked_now: boolean }>(
      `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1
       RETURNING revoked_at = now() AS revoked_now`,
      [id],
    );
    if (res.rowCount === 0) return 'not-found';
    await this.#revocations?.publish(id).catch((err: Error) => {
      throw new FleetError(
        'unavailable',
        `key ${id} is revoked, but the gateways could not be told (${err.message}): they refuse it once their cache expires (API_KEY_CACHE_SECONDS); revoke it again to tell them now`,
        { cause: err },
      );
    });
    return res.rows[0]!.revoked_now ? 'revoked' : 'already-revoked';
  }

  /** The key a presented token proves, or null (malformed, unknown, revoked or wrong secret). */
  async verify(token: string): Promise<ApiKey | null> {
    const parsed = parseApiKey(token);
    if (!parsed) return null;
    const res = await this.#pool.query<Row & { secret_hash: Buffer }>(
      `SELECT ${COLUMNS}, secret_hash FROM api_keys WHERE id = $1`,
      [parsed.id],
    );
    const row = res.rows[0];
    if (!row || row.revoked_at !== null) return null;
    const presented = sha256(parsed.secret);
    if (row.secret_hash.length !== presented.length || !timingSafeEqual(row.secret_hash, presented))
      return null;
    return toKey(row);
  }
}
