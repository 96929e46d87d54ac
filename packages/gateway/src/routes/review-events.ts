import {
  isRestingReviewStatus,
  type ReviewEvent,
  type ReviewStatusView,
  runIdSchema,
} from '@agent-fleet/review';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireScope } from '../auth/guards.ts';
import type { GatewayDeps } from '../deps.ts';
import { lastEventIdHeaders, SSE_KEEP_ALIVE_MS, type SseStream, serveEvents } from '../sse.ts';
import { visibleRun } from './review-access.ts';

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
        headers: lastEventIdHeaders,
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
      await serveEvents(
        req,
        reply,
        deps.streams,
        (sse) => sendReviewEvents(sse, deps, run.runId, after, snapshot),
        { reviewId: run.runId },
      );
    },
  );
};

/** The run's snapshot when given (and nothing more when it rests), then its events after `after` until it rests. */
async function sendReviewEvents(
  sse: SseStream,
  deps: Pick<GatewayDeps, 'reviewEvents'>,
  runId: string,
  after: string,
  snapshot: ReviewStatusView | undefined,
): Promise<void> {
  if (snapshot) {
    sse.send(JSON.stringify(snapshot), { event: 'snapshot' });
    if (isRestingReviewStatus(snapshot.status)) return;
  }
  const tail = deps.reviewEvents.tail(runId, { after, signal: sse.signal, keepAliveMs: SSE_KEEP_ALIVE_MS });
  for await (const item of tail) {
    if (item.kind === 'keep-alive') {
      sse.comment('keep-alive');
      continue;
    }
    sse.send(JSON.stringify(item.event), { id: item.id, event: item.event.type });
    if (endsStream(item.event)) return;
  }
}
