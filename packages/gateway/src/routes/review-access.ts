import { FleetError } from '@agent-fleet/core';
import type { RunRecord } from '@agent-fleet/review';
import { z } from 'zod';
import { canAccessUser } from '../auth/guards.ts';
import { hasScope, type Principal } from '../auth/principal.ts';
import type { GatewayDeps } from '../deps.ts';

/** Whether `p` may see and drive a run: it could have created it (same rules as for the run's user and tenant). */
export function canSeeRun(p: Principal, run: Pick<RunRecord, 'userId' | 'tenant'>): boolean {
  if (!canAccessUser(p, run.userId, 'reviews')) return false;
  return p.kind !== 'key' || p.tenant === undefined || p.tenant === run.tenant;
}

/**
 * The run, if `p` may see it. A run of someone else is reported as not found, like a run that does
 * not exist, so review ids cannot be probed.
 */
export async function visibleRun(deps: GatewayDeps, p: Principal, runId: string): Promise<RunRecord> {
  const run = await deps.reviews.get(runId);
  if (!run || !canSeeRun(p, run))
    throw new FleetError('not_found', `review ${runId} not found`, { details: { reviewId: runId } });
  return run;
}

/** The query of a page of a newest-first listing: at most `limit` (50 by default, up to `max`) before the cursor. */
export const pageQuery = <Cursor extends z.ZodType<string>>(max: number, cursor: Cursor) =>
  z.object({ limit: z.coerce.number().int().min(1).max(max).default(50), before: cursor.optional() });

/**
 * The page of review runs or schedules `p` may list (`what` names them in the refusal): a user
 * token, a key that acts for users or an admin key may list; a key confined to a tenant gets that
 * tenant's.
 */
export function visiblePage(
  p: Principal,
  query: { limit: number; before?: string | undefined },
  what: string,
): { limit: number; before?: string; tenant?: string } {
  if (p.kind === 'key' && !p.actAsUsers && !hasScope(p, 'admin'))
    throw new FleetError('forbidden', `listing ${what} needs a key that acts for users`);
  const tenant = p.kind === 'key' ? p.tenant : undefined;
  return {
    limit: query.limit,
    ...(query.before ? { before: query.before } : {}),
    ...(tenant ? { tenant } : {}),
  };
}
