import { FleetError } from '@agent-fleet/core';
import type { RunRecord } from '@agent-fleet/review';
import { canAccessUser } from '../auth/guards.ts';
import type { Principal } from '../auth/principal.ts';
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
