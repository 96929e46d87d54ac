import { createHash, randomBytes } from 'node:crypto';
import { type RedisPlace, RedisStore } from '@agent-fleet/core';

/** The cookie a browser signed in to the admin UI holds; sent only to `/admin` paths. */
export const ADMIN_SESSION_COOKIE = 'fleet_admin';
export const ADMIN_COOKIE_PATH = '/admin';

/** What a session remembers: which API key signed in (the key itself is never stored). */
export interface AdminSession {
  keyId: string;
  keyName: string;
  createdAt: number;
}

const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

/**
 * Admin sessions for browsers, which cannot send a Bearer header to Bull Board. The cookie holds a
 * random 256-bit id that cannot be guessed or forged; Redis holds only its SHA-256 (a copy of
 * Redis does not hand out live sessions) with a TTL, so every gateway process sees the same
 * sessions and logging out ends one everywhere.
 */
export class AdminSessions extends RedisStore {
  readonly ttlSeconds: number;

  constructor(opts: RedisPlace & { ttlSeconds?: number }) {
    super(opts);
    this.ttlSeconds = opts.ttlSeconds ?? 8 * 3600;
  }

  #key(id: string): string {
    const digest = createHash('sha256').update(id).digest('base64url');
    return `${this.namespace}:{admin-session}:${digest}`;
  }

  /** Starts a session for a key that has the admin scope; returns the id to put in the cookie. */
  async create(session: Omit<AdminSession, 'createdAt'>): Promise<string> {
    const id = randomBytes(32).toString('base64url');
    const value: AdminSession = { ...session, createdAt: Date.now() };
    await this.redis.set(this.#key(id), JSON.stringify(value), 'EX', this.ttlSeconds);
    return id;
  }

  /** The session of a cookie value, or null for a malformed, unknown or expired one. */
  async get(id: string | undefined): Promise<AdminSession | null> {
    if (!id || !SESSION_ID.test(id)) return null;
    const raw = await this.redis.get(this.#key(id));
    return raw ? (JSON.parse(raw) as AdminSession) : null;
  }

  async destroy(id: string | undefined): Promise<void> {
    if (id && SESSION_ID.test(id)) await this.redis.del(this.#key(id));
  }
}
