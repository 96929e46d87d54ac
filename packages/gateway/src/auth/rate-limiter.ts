import { FleetError, LuaScript, RedisStore } from '@agent-fleet/core';
import type { FastifyReply } from 'fastify';

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

/**
 * What a limit counts: requests per user and per API key; requests without a valid credential per
 * client address (`ip`); failed admin sign-ins per address and per API key id (`login-*`).
 */
export type RateBucket = 'user' | 'key' | 'ip' | 'login-ip' | 'login-key';

/** The configuration of the limits (the matching FleetConfig fields); a rate of 0 switches one off. */
export interface RateLimitConfig {
  RATE_LIMIT_USER_PER_SECOND: number;
  RATE_LIMIT_USER_BURST: number;
  RATE_LIMIT_KEY_PER_SECOND: number;
  RATE_LIMIT_KEY_BURST: number;
  RATE_LIMIT_IP_PER_SECOND: number;
  RATE_LIMIT_IP_BURST: number;
  RATE_LIMIT_LOGIN_FAILURES_PER_MINUTE: number;
  RATE_LIMIT_LOGIN_FAILURE_BURST: number;
}

/** Each bucket's limit, from the configuration. */
export function rateLimits(cfg: RateLimitConfig): Record<RateBucket, RateLimit> {
  const login = {
    perSecond: cfg.RATE_LIMIT_LOGIN_FAILURES_PER_MINUTE / 60,
    burst: cfg.RATE_LIMIT_LOGIN_FAILURE_BURST,
  };
  return {
    user: { perSecond: cfg.RATE_LIMIT_USER_PER_SECOND, burst: cfg.RATE_LIMIT_USER_BURST },
    key: { perSecond: cfg.RATE_LIMIT_KEY_PER_SECOND, burst: cfg.RATE_LIMIT_KEY_BURST },
    ip: { perSecond: cfg.RATE_LIMIT_IP_PER_SECOND, burst: cfg.RATE_LIMIT_IP_BURST },
    'login-ip': login,
    'login-key': login,
  };
}

/** The Redis key of one limit: its own hash tag, so limits spread over a cluster. */
export function rateLimitKey(namespace: string, bucket: RateBucket, id: string): string {
  return `${namespace}:{rl:${bucket}:${id}}`;
}

/**
 * Rate limits shared by every gateway process, kept in Redis (one GCRA call per limit: see
 * `lua/rate-limit-gcra-1.lua`).
 */
export class RateLimiter extends RedisStore {
  /** Gives back `count` requests taken before (they turned out not to count); never above a full bucket. */
  async refund(bucket: RateBucket, id: string, limit: RateLimit, count = 1): Promise<void> {
    await this.take(bucket, id, limit, -count);
  }

  async take(bucket: RateBucket, id: string, limit: RateLimit, cost = 1): Promise<RateDecision> {
    if (limit.perSecond <= 0) return { allowed: true, retryAfterMs: 0, remaining: Number.POSITIVE_INFINITY };
    const [allowed, retryAfterMs, remaining] = (await gcra.run(
      this.redis,
      [rateLimitKey(this.namespace, bucket, id)],
      [1000 / limit.perSecond, Math.max(1, limit.burst), cost],
    )) as [number, number, number];
    return { allowed: allowed === 1, retryAfterMs, remaining };
  }
}

/**
 * The 429 of a limit that said no, with `Retry-After` set on `reply`: `rate_limited` with `what`
 * ("too many requests for this user") and when to try again, `details.reason` (`user_rate`,
 * `ip_rate`, …) and `retryAfterSeconds`.
 */
export function rateLimited(
  reply: FastifyReply,
  decision: RateDecision,
  what: string,
  reason: string,
): FleetError {
  const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
  reply.header('retry-after', String(seconds));
  return new FleetError('rate_limited', `${what}; try again in ${seconds} s`, {
    details: { reason, retryAfterSeconds: seconds },
  });
}
