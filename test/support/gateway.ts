import { createLogger, type FleetConfig, loadConfig } from '@agent-fleet/core';
import { buildGateway, createGatewayDeps, type GatewayDeps } from '@agent-fleet/gateway';
import type { FastifyInstance } from 'fastify';
import { SignJWT } from 'jose';
import { afterAll, beforeAll } from 'vitest';
import { freshDatabase, freshNamespace, redisUrl } from './stack.ts';
import { startedLater } from './started-later.ts';

export interface GatewayOptions {
  /**
   * The environment on top of the shared Redis, a fresh database and a namespace of its own; a
   * function when it points at something started just before the gateway.
   */
  env?: Record<string, string> | (() => Promise<Record<string, string>>);
  /** Values set on the parsed config directly (ones the schema does not declare yet, or out of its range). */
  config?: Record<string, unknown>;
}

/**
 * The gateway's app built in this process (no worker, no port unless the tests listen), built
 * before the tests of the enclosing `describe` and closed after them. The values returned stand for
 * the built ones: read them in hooks and tests.
 */
export function useGateway(opts: GatewayOptions = {}): { app: FastifyInstance; deps: GatewayDeps } {
  let deps: GatewayDeps | undefined;
  let app: FastifyInstance | undefined;
  beforeAll(async () => {
    const env = typeof opts.env === 'function' ? await opts.env() : opts.env;
    const config: FleetConfig = loadConfig({
      REDIS_URL: redisUrl(),
      DATABASE_URL: await freshDatabase(),
      FLEET_NAMESPACE: freshNamespace(),
      ...env,
    });
    Object.assign(config, opts.config);
    deps = await createGatewayDeps(config, createLogger('test', 'silent'));
    app = await buildGateway(deps);
  });
  afterAll(async () => {
    await app?.close();
    await deps?.close();
  });
  return { app: startedLater('the gateway', () => app), deps: startedLater('the gateway deps', () => deps) };
}

/** Rate limits off, for tests that send many requests from one address and one credential. */
export const NO_RATE_LIMITS = {
  RATE_LIMIT_USER_PER_SECOND: '0',
  RATE_LIMIT_KEY_PER_SECOND: '0',
  RATE_LIMIT_IP_PER_SECOND: '0',
  RATE_LIMIT_LOGIN_FAILURES_PER_MINUTE: '0',
};

/** A user token (HS256, as the gateway's JWT_SECRET signs them) for `userId`, valid for `expiresIn`. */
export function userToken(secret: string, userId: string, expiresIn = '1h'): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(userId)
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(secret));
}
