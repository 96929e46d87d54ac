import { FleetError, type Logger, USER_ID_PATTERN } from '@agent-fleet/core';
import type { ApiKeyStore } from '@agent-fleet/state';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ADMIN_SESSION_COOKIE, type AdminSessions } from './admin-sessions.ts';
import type { AuthCollaborators, AuthConfig } from './collaborators.ts';
import type { JwtVerifier } from './jwt.ts';
import type { ApiKeyCache } from './key-cache.ts';
import { ANONYMOUS_ADMIN, hasScope, type Principal, USER_SCOPES } from './principal.ts';
import { type RateLimit, type RateLimiter, rateLimited, rateLimits } from './rate-limiter.ts';

export type { AuthConfig } from './collaborators.ts';

export interface AuthPluginOptions extends Omit<AuthCollaborators, 'loginThrottle'> {
  config: AuthConfig;
  logger?: Logger;
  /** Paths served to anyone; default `/healthz`, `/readyz`, `/metrics`, the admin login and logout. */
  publicPaths?: readonly string[];
  /** Path prefixes served to anyone (the API documentation); default `/docs`. */
  publicPrefixes?: readonly string[];
  /** Path prefixes that need `admin` whatever registered them (Bull Board); default `/admin`. */
  adminPrefixes?: readonly string[];
  /**
   * Browser sessions of the admin UI: with them, a request to an admin path that has no
   * Authorization header may present the session cookie instead, and a browser that has neither
   * is sent to `loginPath`.
   */
  sessions?: AdminSessions;
  /** Where a browser without credentials for an admin path is redirected; default `/admin/login`. */
  loginPath?: string;
}

/** The auth plugin's name, for plugins that declare it as a dependency. */
export const AUTH_PLUGIN = 'fleet-auth';

export const ADMIN_LOGIN_PATH = '/admin/login';
export const ADMIN_LOGOUT_PATH = '/admin/logout';
export const DEFAULT_PUBLIC_PATHS = [
  '/healthz',
  '/readyz',
  '/metrics',
  ADMIN_LOGIN_PATH,
  ADMIN_LOGOUT_PATH,
] as const;
export const DEFAULT_PUBLIC_PREFIXES = ['/docs'] as const;
export const DEFAULT_ADMIN_PREFIXES = ['/admin'] as const;

const under = (path: string, prefix: string) => path === prefix || path.startsWith(`${prefix}/`);

function decodedPath(url: string): string {
  const raw = url.split('?')[0]!;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/**
 * Authentication and rate limits for every route of the app it is registered on. Each request
 * that is not public must carry `Authorization: Bearer <credential>`: a service API key
 * (`fk_<id>_<secret>`, checked against its hash in Postgres) or an end user's JWT (`sub` =
 * userId); on `/admin*` a browser may instead present the admin session cookie that
 * `POST /admin/login` sets (and one with neither is redirected to the sign-in form). The cookie is
 * accepted nowhere else. It sets `req.principal`, holds `/admin*` to the `admin` scope, and takes one
 * request from the caller's rate limits (per key, and per user: the token's user or the route's
 * `:userId`), answering 429 with `Retry-After` when one is empty. A request without a valid
 * credential (to a public route other than the probes, or refused with 401) takes from its client
 * address's limit instead (see `AnonymousLimit`). Per-route rules are the guards (`requireScope`,
 * `requireUserAccess`). All of it runs before the body is read. Made with fastify-plugin, so its
 * hook and decorator apply to the whole app it is registered on.
 */
const auth: FastifyPluginAsync<AuthPluginOptions> = async (app, opts) => {
  const cfg = opts.config;
  const publicPaths = new Set<string>(opts.publicPaths ?? DEFAULT_PUBLIC_PATHS);
  const publicPrefixes = opts.publicPrefixes ?? DEFAULT_PUBLIC_PREFIXES;
  const adminPrefixes = opts.adminPrefixes ?? DEFAULT_ADMIN_PREFIXES;
  const loginPath = opts.loginPath ?? ADMIN_LOGIN_PATH;
  const { apiKeys, keys, jwt, limiter, anonymous } = opts;
  const limits = rateLimits(cfg);
  if (cfg.AUTH_MODE === 'off')
    opts.logger?.warn(
      'AUTH_MODE=off: every caller is an admin; never run a fleet reachable by others like this',
    );

  app.decorateRequest('principal', null);

  app.addHook('onRequest', async (req, reply) => {
    // The route the router matched decides, not the URL as sent: `/%61dmin/queues` reaches Bull
    // Board's route and must be held to /admin's rules (decoded likewise when nothing matched).
    const path = req.routeOptions.url ?? decodedPath(req.url);
    if (publicPaths.has(path) || publicPrefixes.some((p) => under(path, p)))
      return anonymous.take(req, reply, path);
    const admin = adminPrefixes.some((p) => under(path, p));
    let principal: Principal;
    if (cfg.AUTH_MODE === 'off') principal = ANONYMOUS_ADMIN;
    else if (admin && opts.sessions && !req.headers.authorization) {
      const session = await sessionPrincipal(req, opts.sessions, apiKeys);
      if (!session) {
        // A browser opening the admin UI is sent to the sign-in form rather than shown JSON.
        if (req.method === 'GET' && /\btext\/html\b/.test(req.headers.accept ?? ''))
          return reply.redirect(loginPath, 303);
        reply.header('www-authenticate', 'Bearer realm="agent-fleet"');
        const why = `send Authorization: Bearer <admin API key>, or sign in at ${loginPath}`;
        return anonymous.refused(req, reply, new FleetError('unauthorized', why));
      }
      principal = session;
    } else
      principal = await authenticate(req, reply, keys, jwt).catch((err) =>
        anonymous.refused(req, reply, err),
      );
    req.principal = principal;
    if (admin && !hasScope(principal, 'admin'))
      throw new FleetError('forbidden', 'this route needs the admin scope');
    await applyRateLimits(req, reply, principal, limiter, limits, opts.logger);
  });
};

export const authPlugin = fp(auth, { name: AUTH_PLUGIN, fastify: '5.x' });

/**
 * The principal of an admin session cookie: the key that signed in, checked again on every request
 * so a revoked key or one that lost `admin` ends its sessions at once. Null when there is none. A
 * state-changing request carried by the cookie must come from this origin (SameSite=Strict already
 * keeps other sites' requests from carrying it; this also holds for older browsers).
 */
async function sessionPrincipal(
  req: FastifyRequest,
  sessions: AdminSessions,
  store: Pick<ApiKeyStore, 'get'>,
): Promise<Principal | null> {
  const id = (req as { cookies?: Record<string, string | undefined> }).cookies?.[ADMIN_SESSION_COOKIE];
  if (!id) return null;
  const unavailable = (err: unknown) => {
    throw new FleetError('unavailable', 'cannot check the admin session right now; try again', {
      cause: err,
    });
  };
  const session = await sessions.get(id).catch(unavailable);
  if (!session) return null;
  const key = await store.get(session.keyId).catch(unavailable);
  if (!key || key.revokedAt || !key.scopes.includes('admin')) return null;
  const origin = req.headers.origin;
  if (req.method !== 'GET' && req.method !== 'HEAD' && origin !== undefined && !sameOrigin(origin, req))
    throw new FleetError('forbidden', 'a cross-site request cannot use the admin session');
  return {
    kind: 'key',
    id: key.id,
    name: key.name,
    scopes: key.scopes,
    ...(key.tenant ? { tenant: key.tenant } : {}),
    actAsUsers: key.actAsUsers,
  };
}

function sameOrigin(origin: string, req: FastifyRequest): boolean {
  try {
    return new URL(origin).host === req.host;
  } catch {
    return false;
  }
}

async function authenticate(
  req: FastifyRequest,
  reply: FastifyReply,
  keys: Pick<ApiKeyCache, 'verify'>,
  jwt: JwtVerifier | null,
): Promise<Principal> {
  const unauthorized = (message: string) => {
    reply.header('www-authenticate', 'Bearer realm="agent-fleet"');
    return new FleetError('unauthorized', message);
  };
  const header = req.headers.authorization;
  if (!header) throw unauthorized('send Authorization: Bearer <API key or user token>');
  const credential = BEARER.exec(header)?.[1];
  if (!credential) throw unauthorized('the Authorization header must be "Bearer <API key or user token>"');
  if (credential.startsWith('fk_')) {
    const key = await keys.verify(credential).catch((err: unknown) => {
      throw new FleetError('unavailable', 'cannot check the API key right now; try again', { cause: err });
    });
    if (!key) throw unauthorized('the API key is invalid or revoked');
    return {
      kind: 'key',
      id: key.id,
      name: key.name,
      scopes: key.scopes,
      ...(key.tenant ? { tenant: key.tenant } : {}),
      actAsUsers: key.actAsUsers,
    };
  }
  if (!jwt) throw unauthorized('user tokens are not accepted: the gateway has no JWT_SECRET or JWT_JWKS_URL');
  try {
    const { userId } = await jwt(credential);
    return { kind: 'user', id: userId, userId, scopes: USER_SCOPES };
  } catch (err) {
    if (err instanceof FleetError && err.code === 'unauthorized') throw unauthorized(err.message);
    throw err;
  }
}

async function applyRateLimits(
  req: FastifyRequest,
  reply: FastifyReply,
  p: Principal,
  limiter: RateLimiter,
  limits: Record<'user' | 'key', RateLimit>,
  logger: Logger | undefined,
): Promise<void> {
  const userId = p.kind === 'user' ? p.userId : (req.params as { userId?: unknown } | undefined)?.userId;
  const takes: ['user' | 'key', string][] = [];
  if (p.kind === 'key' && p !== ANONYMOUS_ADMIN) takes.push(['key', p.id]);
  if (typeof userId === 'string' && USER_ID_PATTERN.test(userId)) takes.push(['user', userId]);
  if (takes.length === 0) return;
  let decisions: Awaited<ReturnType<RateLimiter['take']>>[];
  try {
    decisions = await Promise.all(takes.map(([bucket, id]) => limiter.take(bucket, id, limits[bucket])));
  } catch (err) {
    // Fail open: a limiter that cannot reach Redis must not take the API down with it.
    logger?.warn({ err: (err as Error).message }, 'rate limiter unavailable; request let through');
    return;
  }
  const denied = decisions.findIndex((d) => !d.allowed);
  if (denied < 0) return;
  const bucket = takes[denied]![0];
  const what = `too many requests for this ${bucket === 'key' ? 'API key' : 'user'}`;
  throw rateLimited(reply, decisions[denied]!, what, `${bucket}_rate`);
}
