import type { RedisClient } from './redis-client.ts';

/** Where a store keeps its state: the fleet's Redis, and the namespace its keys are built under (`keys.ts`). */
export interface RedisPlace {
  redis: RedisClient;
  namespace: string;
}

/**
 * A store whose state lives in the fleet's Redis under one namespace: every such store (gate,
 * records, events, quotas, …) is built from the same place, so processes sharing a namespace share
 * the state and tests isolate themselves with a fresh namespace.
 */
export abstract class RedisStore {
  protected readonly redis: RedisClient;
  protected readonly namespace: string;

  constructor(place: RedisPlace) {
    this.redis = place.redis;
    this.namespace = place.namespace;
  }
}
