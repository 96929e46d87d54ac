import { FleetError } from '@agent-fleet/core';
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { hasScope, type Principal, type Scope } from './principal.ts';

function principalOf(req: FastifyRequest): Principal {
  if (!req.principal)
    throw new FleetError('unauthorized', 'send Authorization: Bearer <API key or user token>');
  return req.principal;
}

/** Whether `p` may act on `userId`'s turns, history or profile with `scope`. */
export function canAccessUser(p: Principal, userId: string, scope: Scope): boolean {
  if (p.kind === 'user') return p.userId === userId && hasScope(p, scope);
  return hasScope(p, scope) && (p.actAsUsers || hasScope(p, 'admin'));
}

/**
 * Throws unless `p` may act on `userId` with `scope`: a user token only on its own userId; a key
 * needs the scope and `actAsUsers` (or `admin`).
 */
export function assertUserAccess(p: Principal | null, userId: string, scope: Scope): void {
  if (!p) throw new FleetError('unauthorized', 'send Authorization: Bearer <API key or user token>');
  if (canAccessUser(p, userId, scope)) return;
  if (p.kind === 'user')
    throw new FleetError('forbidden', `a user token may only be used for its own user (${p.userId})`);
  if (!hasScope(p, scope)) throw new FleetError('forbidden', `this route needs the ${scope} scope`);
  throw new FleetError('forbidden', 'this API key may not act for users (create it with --act-as-users)');
}

/** Throws unless `p` may write documents of `tenant`: a key confined to a tenant only its own. */
export function assertTenantAccess(p: Principal | null, tenant: string): void {
  if (!p) throw new FleetError('unauthorized', 'send Authorization: Bearer <API key or user token>');
  if (p.kind === 'key' && p.tenant !== undefined && p.tenant !== tenant)
    throw new FleetError('forbidden', `this API key is confined to tenant ${p.tenant}`);
}

/** Route guard: the caller needs `scope` (`admin` has every scope). */
export function requireScope(scope: Scope): onRequestAsyncHookHandler {
  return async (req) => {
    const p = principalOf(req);
    if (!hasScope(p, scope)) throw new FleetError('forbidden', `this route needs the ${scope} scope`);
  };
}

/**
 * Route guard for per-user routes: the userId in route parameter `param` must be the user token's
 * own, or the key must have `scope` and act for users. Runs before the body is read.
 */
export function requireUserAccess(scope: Scope, param = 'userId'): onRequestAsyncHookHandler {
  return async (req) => {
    const userId = (req.params as Record<string, string | undefined>)[param];
    if (userId === undefined) throw new FleetError('internal', `route has no :${param} parameter`);
    assertUserAccess(principalOf(req), userId, scope);
  };
}
