import { userKeys } from '@agent-fleet/core';
import type { Redis } from 'ioredis';

/**
 * Profiles read through a Redis cache in the user's slot: a turn or a message costs one pipelined
 * GET instead of a Postgres query. The gateway deletes the entry when it writes a profile, so a change applies
 * to the user's next turn; the TTL bounds how long a missed invalidation could last.
 */
export class ProfileCache<P> {
  readonly #redis: Redis;
  readonly #namespace: string;
  readonly #store: { get(userId: string): Promise<P | null> };
  readonly #ttlSeconds: number;

  constructor(opts: {
    redis: Redis;
    namespace: string;
    store: { get(userId: string): Promise<P | null> };
    ttlSeconds?: number;
  }) {
    this.#redis = opts.redis;
    this.#namespace = opts.namespace;
    this.#store = opts.store;
    this.#ttlSeconds = opts.ttlSeconds ?? 300;
  }

  async get(userId: string): Promise<P | null> {
    const key = userKeys(this.#namespace, userId).profile;
    const cached = await this.#redis.get(key);
    if (cached !== null) return JSON.parse(cached) as P | null;
    const profile = await this.#store.get(userId);
    await this.#redis.set(key, JSON.stringify(profile), 'EX', this.#ttlSeconds);
    return profile;
  }
}
