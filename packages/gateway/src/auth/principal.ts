import type { ApiKeyScope } from '@agent-fleet/state';

export type Scope = ApiKeyScope;

/** What a user token may do: only ever on its own user's routes (see `requireUserAccess`). */
export const USER_SCOPES: readonly Scope[] = ['messages:write', 'turns:read'];

/**
 * Who is calling. A service key (`kind: 'key'`, `id` is the key id) or an end user's token
 * (`kind: 'user'`, `id` and `userId` are the token's subject).
 */
export type Principal =
  | {
      kind: 'key';
      id: string;
      name: string;
      scopes: readonly Scope[];
      /** Confines the key to one tenant's documents. */
      tenant?: string;
      /** May call the per-user routes for any user. */
      actAsUsers: boolean;
    }
  | { kind: 'user'; id: string; userId: string; scopes: readonly Scope[] };

/** The principal of every request when AUTH_MODE=off: everything is allowed. */
export const ANONYMOUS_ADMIN: Principal = {
  kind: 'key',
  id: 'anonymous',
  name: 'AUTH_MODE=off',
  scopes: ['admin'],
  actAsUsers: true,
};

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth plugin on every route that is not public; null on public routes. */
    principal: Principal | null;
  }
}

/** `admin` implies every scope. */
export function hasScope(p: Principal, scope: Scope): boolean {
  return p.scopes.includes('admin') || p.scopes.includes(scope);
}
