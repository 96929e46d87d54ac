import { FleetError } from '@agent-fleet/core';
import type { ChunkRecord, UserAccess } from './ports.ts';

const TENANT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const GROUP = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;

/**
 * A retrieval refused because there is no valid access to filter by (no stored profile, or a
 * malformed one). Never retryable: asking again without a profile cannot help.
 */
export class MissingAccessError extends FleetError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('invalid_request', message, { retryable: false, ...(details ? { details } : {}) });
    this.name = 'MissingAccessError';
  }
}

export const isValidTenant = (t: unknown): t is string => typeof t === 'string' && TENANT.test(t);
export const isValidGroup = (g: unknown): g is string => typeof g === 'string' && GROUP.test(g);

/**
 * The visibility rule, the same for every backend: a chunk is visible iff its tenant is the
 * user's tenant and it is public within that tenant or one of its ACL groups is one of the user's.
 */
export function visibleTo(
  access: UserAccess,
  chunk: Pick<ChunkRecord, 'tenant' | 'acl' | 'public'>,
): boolean {
  if (chunk.tenant !== access.tenant) return false;
  if (chunk.public === true) return true;
  return Array.isArray(chunk.acl) && chunk.acl.some((g) => access.groups.includes(g));
}

/** Returns a frozen copy of a well-formed access, or throws `MissingAccessError`. */
export function checkAccess(access: UserAccess | null | undefined): UserAccess {
  if (access === null || access === undefined || typeof access !== 'object')
    throw new MissingAccessError('retrieval refused: no access profile for this user');
  if (!isValidTenant(access.tenant))
    throw new MissingAccessError('retrieval refused: the access profile has no valid tenant');
  if (!Array.isArray(access.groups) || !access.groups.every(isValidGroup))
    throw new MissingAccessError('retrieval refused: the access profile has malformed groups');
  return Object.freeze({ tenant: access.tenant, groups: Object.freeze([...access.groups]) as string[] });
}

/** Anything that reads stored profiles by user id, such as `ProfileStore` of @agent-fleet/state. */
export interface ProfileSource {
  get(userId: string): Promise<{ tenant: string; groups: string[] } | null>;
}

/**
 * The access of `userId`, from their stored profile and nothing else; throws `MissingAccessError`
 * when there is none, so a user without a profile can retrieve nothing.
 */
export async function accessFor(profiles: ProfileSource, userId: string): Promise<UserAccess> {
  const profile = await profiles.get(userId);
  if (!profile) throw new MissingAccessError(`retrieval refused: user ${userId} has no profile`, { userId });
  return checkAccess({ tenant: profile.tenant, groups: profile.groups });
}
