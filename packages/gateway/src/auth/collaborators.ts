import type { Logger, RedisClient } from '@agent-fleet/core';
import { ApiKeyStore } from '@agent-fleet/state';
import type { Pool } from 'pg';
import { AnonymousLimit } from './anonymous-limit.ts';
import { createJwtVerifier, type JwtVerifier } from './jwt.ts';
import { ApiKeyCache } from './key-cache.ts';
import { LoginThrottle } from './login-throttle.ts';
import { type RateLimitConfig, RateLimiter, rateLimits } from './rate-limiter.ts';

/** The configuration authentication reads (the matching FleetConfig fields). */
export interface AuthConfig extends RateLimitConfig {
  FLEET_NAMESPACE: string;
  /** `required`: every non-public route needs credentials. `off`: everyone is an admin (development, tests). */
  AUTH_MODE: 'required' | 'off';
  JWT_SECRET?: string | undefined;
  JWT_JWKS_URL?: string | undefined;
  JWT_ISSUER?: string | undefined;
  JWT_AUDIENCE?: string | undefined;
  JWT_CLOCK_SKEW_SECONDS: number;
  JWT_MAX_LIFETIME_SECONDS: number;
  API_KEY_CACHE_SECONDS: number;
}

/** What authentication works with: built once, by the gateway's deps, and handed to the auth plugin. */
export interface AuthCollaborators {
  /** API keys in Postgres: admin sessions look their key up on every request. */
  apiKeys: ApiKeyStore;
  /** Verified API keys, remembered for API_KEY_CACHE_SECONDS. */
  keys: ApiKeyCache;
  /** User tokens; null when neither JWT_SECRET nor JWT_JWKS_URL is set. */
  jwt: JwtVerifier | null;
  limiter: RateLimiter;
  /** The limit per client address on requests without a valid credential. */
  anonymous: AnonymousLimit;
  /** Failed admin sign-ins, per address and per key id. */
  loginThrottle: LoginThrottle;
}

export function createAuthCollaborators(
  config: AuthConfig,
  clients: { pool: Pool; redis: RedisClient; apiKeys?: ApiKeyStore; logger?: Logger },
): AuthCollaborators {
  const apiKeys = clients.apiKeys ?? new ApiKeyStore({ pool: clients.pool });
  const limiter = new RateLimiter({ redis: clients.redis, namespace: config.FLEET_NAMESPACE });
  const limits = rateLimits(config);
  const logger = clients.logger ? { logger: clients.logger } : {};
  return {
    apiKeys,
    keys: new ApiKeyCache({ store: apiKeys, ttlMs: config.API_KEY_CACHE_SECONDS * 1000 }),
    jwt: createJwtVerifier({
      secret: config.JWT_SECRET,
      jwksUrl: config.JWT_JWKS_URL,
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      clockSkewSeconds: config.JWT_CLOCK_SKEW_SECONDS,
      maxLifetimeSeconds: config.JWT_MAX_LIFETIME_SECONDS,
    }),
    limiter,
    anonymous: new AnonymousLimit({
      limiter,
      limit: limits.ip,
      enabled: config.AUTH_MODE === 'required',
      ...logger,
    }),
    loginThrottle: new LoginThrottle({ limiter, limit: limits['login-ip'], ...logger }),
  };
}
