import { RedisStore, userKeys } from '@agent-fleet/core';

/**
 * Which tenant each user counts under for quotas and fair queueing, in the user's slot: written
 * whenever a profile is stored or resolved (gateway, workers), read by producers that cannot
 * resolve profiles themselves (the SDK talks to Redis only). A user the fleet has never resolved
 * counts under no tenant until their first turn resolves their profile; that turn's model calls
 * are checked against the tenant's budgets all the same.
 */
export class TenantDirectory extends RedisStore {
  async get(userId: string): Promise<string | null> {
    return this.redis.get(userKeys(this.namespace, userId).tenant);
  }

  /** Notes the user's tenant; `null` forgets it (the user has no profile). */
  async set(userId: string, tenant: string | null): Promise<void> {
    const key = userKeys(this.namespace, userId).tenant;
    if (tenant === null) await this.redis.del(key);
    else await this.redis.set(key, tenant);
  }
}
