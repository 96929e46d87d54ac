import { isRestingReviewStatus, type ReviewEvent, runIdSchema } from '@agent-fleet/review';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireScope } from '../auth/guards.ts';
import type { GatewayDeps } from '../deps.ts';
import { openSse } from '../sse.ts';
import { visibleRun } from './review-access.ts';

const KEEP_ALIVE_MS = 15_000;
/** The stream ends once the run rests (a cancelled run may be resumed: watch again then). */
const endsStream = (event: ReviewEvent) => event.type === 'status' && isRestingReviewStatus(event.status);

/**
 * A run's progress as Server-Sent Events (`GET /v1/reviews/:reviewId/events`): first a `snapshot`
 * (the run as `GET /v1/reviews/:id` reports it), then `progress` for each document settled (with
 * the run's counts after it) and `status` for each change; the stream ends once the run completes,
 * fails or is cancelled. With Last-Event-ID it resumes after that event instead (`0-0`: from the
 * first), without a snapshot. Streams count towards MAX_STREAMS_PER_PRINCIPAL and share the
 * gateway's one stream reader.
 */
export const reviewEventRoutes: FastifyPluginAsyncZod<GatewayDeps> = async (app, deps) => {
  app.get(
    '/v1/reviews/:reviewId/events',
    {
      onRequest: [requireScope('reviews')],
      schema: {
        tags: ['reviews'],
        summary: 'A review run’s progress as Server-Sent Events',
        description:
          'Events: `snapshot` (the run’s status, first unless resuming), `progress` ({ docId, outcome, documents, ' +
          'verdicts, tokens } after each document; counts only grow), `status` ({ status, generation }). Ends once ' +
          'the run has completed, failed or been cancelled. Send Last-Event-ID to resume after an event (`0-0` for ' +
          'every event from the start).',
        params: z.object({ reviewId: runIdSchema }),
        headers: z.object({
          'last-event-id': z
            .string()
            .regex(/^\d+-\d+$/, 'Last-Event-ID must be an event id')
            .optional(),
        }),
      },
    },
    async (req, reply) => {
      const run = await visibleRun(deps, req.principal!, req.params.reviewId);
      const resumeFrom = req.headers['last-event-id'];
      // The stream's end is taken before the snapshot: events after it follow the snapshot, so
      // nothing between the two is missed (progress events carry the run's counts, not deltas).
      const after = resumeFrom ?? (await deps.reviewEvents.last(run.runId));
      const snapshot = resumeFrom
        ? undefined
        : await deps.reviews.status((await deps.reviews.get(run.runId))!);
      const slot = deps.streams.take(req.principal!);
      const sse = openSse(reply, { until: slot.signal });
      try {
        if (snapshot) {
          sse.send(JSON.stringify(snapshot), { event: 'snapshot' });
          if (isRestingReviewStatus(snapshot.status)) return;
        }
        const tail = deps.reviewEvents.tail(run.runId, {
          after,
          signal: sse.signal,
          keepAliveMs: KEEP_ALIVE_MS,
        });
        for await (const item of tail) {
          if (item.kind === 'keep-alive') {
            sse.comment('keep-alive');
            continue;
          }
          sse.send(JSON.stringify(item.event), { id: item.id, event: item.event.type });
          if (endsStream(item.event)) return;
        }
      } catch (err) {
        req.log.warn(
          { err: (err as Error).message, reviewId: run.runId },
          'review event stream ended with an error',
        );
      } finally {
        slot.release();
        sse.end();
      }
    },
  );
};
