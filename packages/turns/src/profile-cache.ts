import { type RedisClient, userKeys } from '@agent-fleet/core';
import { TenantDirectory } from './tenant-directory.ts';

export interface ProfileCacheOptions<P> {
  redis: RedisClient;
  namespace: string;
  /** The profile's schema (a zod schema fits): what is read back from the cache is parsed by it. */
  schema: { parse(value: unknown): P };
  store: { get(userId: string): Promise<P | null> };
  ttlSeconds?: number;
  /**
   * The tenant a profile names (null for none): given, each profile read from the store notes its
   * user's tenant in the tenant directory, where producers that cannot read profiles find it.
   */
  tenantOf?: (profile: P) => string;
}

/**
 * Profiles read through a Redis cache in the user's slot: a turn or a message costs one pipelined
 * GET instead of a Postgres query. The gateway deletes the entry when it writes a profile, so a
 * change applies to the user's next turn; the TTL bounds how long a missed invalidation could last.
 * A cached entry the schema refuses (written in an older shape) counts as a miss and is replaced.
 */
export class ProfileCache<P> {
  readonly #redis: RedisClient;
  readonly #namespace: string;
  readonly #schema: { parse(value: unknown): P };
  readonly #store: { get(userId: string): Promise<P | null> };
  readonly #ttlSeconds: number;
  readonly #tenantOf: ((profile: P) => string) | undefined;
  readonly #directory: TenantDirectory;

  constructor(opts: ProfileCacheOptions<P>) {
    this.#redis = opts.redis;
    this.#namespace = opts.namespace;
    this.#schema = opts.schema;
    this.#store = opts.store;
    this.#ttlSeconds = opts.ttlSeconds ?? 300;
    this.#tenantOf = opts.tenantOf;
    this.#directory = new TenantDirectory({ redis: opts.redis, namespace: opts.namespace });
  }

  async get(userId: string): Promise<P | null> {
    const key = userKeys(this.#namespace, userId).profile;
    const cached = this.#decode(await this.#redis.get(key));
    if (cached !== undefined) return cached;
    const profile = await this.#store.get(userId);
    await Promise.all([
      this.#redis.set(key, JSON.stringify(profile), 'EX', this.#ttlSeconds),
      this.#tenantOf ? this.#directory.set(userId, profile ? this.#tenantOf(profile) : null) : undefined,
    ]);
    return profile;
  }

  /** The cached profile, null when the user has none, undefined when nothing usable is cached. */
  #decode(raw: string | null): P | null | undefined {
    if (raw === null) return undefined;
    try {
      const value: unknown = JSON.parse(raw);
      return value === null ? null : this.#schema.parse(value);
    } catch {
      return undefined;
    }
  }
}
