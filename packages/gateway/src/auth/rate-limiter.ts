import { LuaScript } from '@agent-fleet/core';
import type { Redis } from 'ioredis';

const gcra = new LuaScript(new URL('./lua/rate-limit-gcra-1.lua', import.meta.url));

/** A sustained rate with a burst; `perSecond` 0 switches the limit off. */
export interface RateLimit {
  perSecond: number;
  burst: number;
}

export interface RateDecision {
  allowed: boolean;
  /** How long to wait before the next request can pass (0 when allowed). */
  retryAfterMs: number;
  /** Requests that may still pass at once. */
  remaining: number;
}

export type RateBucket = 'user' | 'key';

/** The Redis key of one limit: its own hash tag, so limits spread over a cluster. */
export function rateLimitKey(namespace: string, bucket: RateBucket, id: string): string {
  return `${namespace}:{rl:${bucket}:${id}}`;
}

/**
 * Rate limits shared by every gateway process, kept in Redis (one GCRA call per limit: see
 * `lua/rate-limit-gcra-1.lua`).
 */
export class RateLimiter {
  readonly #redis: Redis;
  readonly #namespace: string;

  constructor(opts: { redis: Redis; namespace: string }) {
    this.#redis = opts.redis;
    this.#namespace = opts.namespace;
  }

  async take(bucket: RateBucket, id: string, limit: RateLimit, cost = 1): Promise<RateDecision> {
    if (limit.perSecond <= 0) return { allowed: true, retryAfterMs: 0, remaining: Number.POSITIVE_INFINITY };
    const [allowed, retryAfterMs, remaining] = (await gcra.run(
      this.#redis,
      [rateLimitKey(this.#namespace, bucket, id)],
      [1000 / limit.perSecond, Math.max(1, limit.burst), cost],
    )) as [number, number, number];
    return { allowed: allowed === 1, retryAfterMs, remaining };
  }
}
