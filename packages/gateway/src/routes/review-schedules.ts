import { FleetError } from '@agent-fleet/core';
import {
  reviewScheduleListSchema,
  reviewScheduleSchema,
  runIdSchema,
  type ScheduleRecord,
  scheduleIdSchema,
} from '@agent-fleet/review';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireScope } from '../auth/guards.ts';
import type { Principal } from '../auth/principal.ts';
import type { GatewayDeps } from '../deps.ts';
import { errorResponses } from '../schemas.ts';
import { canSeeRun, pageQuery, visiblePage, visibleRun } from './review-access.ts';

const scheduleSchema = reviewScheduleSchema.meta({ id: 'ReviewSchedule' });

/**
 * The schedules of review runs: `GET` and `DELETE /v1/reviews/:reviewId/schedule` (the schedule a run
 * belongs to) and `GET /v1/review-schedules`. Same rules as the runs: the `reviews` scope, and only
 * schedules of users (and a tenant) the caller may act for; others look like none (404).
 */
export const reviewScheduleRoutes: FastifyPluginAsyncZod<GatewayDeps> = async (app, deps) => {
  const params = z.object({ reviewId: runIdSchema });
  for (const method of ['GET', 'DELETE'] as const)
    app.route({
      method,
      url: '/v1/reviews/:reviewId/schedule',
      onRequest: [requireScope('reviews')],
      schema: {
        tags: ['reviews'],
        summary:
          method === 'GET'
            ? 'The schedule a review run belongs to: its cron pattern, next rerun and runs'
            : 'Remove the schedule a review run belongs to: no rerun starts after this',
        description:
          method === 'GET'
            ? '404 when the run belongs to no schedule.'
            : 'A rerun in progress goes on; the runs stay. Idempotent: a removed schedule is answered as it is.',
        params,
        response: { 200: scheduleSchema, ...errorResponses },
      },
      handler: async (req) => {
        const schedule = await scheduleOfRun(deps, req.principal!, req.params.reviewId);
        if (method === 'DELETE') await deps.reviewSchedules.remove(schedule.scheduleId);
        const current = await deps.reviewSchedules.get(schedule.scheduleId);
        return deps.reviewSchedules.view(current ?? schedule);
      },
    });

  app.get(
    '/v1/review-schedules',
    {
      onRequest: [requireScope('reviews')],
      schema: {
        tags: ['reviews'],
        summary: 'Review schedules, newest first',
        description:
          'Schedules the caller may see (a key confined to a tenant sees that tenant’s), removed ones included, ' +
          'at most `limit` per page; pass `nextBefore` as `before` for the next page.',
        querystring: pageQuery(200, scheduleIdSchema),
        response: { 200: reviewScheduleListSchema.meta({ id: 'ReviewScheduleList' }), ...errorResponses },
      },
    },
    async (req) => {
      return deps.reviewSchedules.list(visiblePage(req.principal!, req.query, 'review schedules'));
    },
  );
};

/** The schedule of a run `p` may see; a run without one, or one `p` may not see, is a 404. */
async function scheduleOfRun(deps: GatewayDeps, p: Principal, runId: string): Promise<ScheduleRecord> {
  const run = await visibleRun(deps, p, runId);
  const schedule = run.scheduleId ? await deps.reviewSchedules.get(run.scheduleId) : null;
  if (!schedule || !canSeeRun(p, schedule))
    throw new FleetError('not_found', `review ${runId} belongs to no schedule`, {
      details: { reviewId: runId },
    });
  return schedule;
}
