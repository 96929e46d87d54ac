import { reviewKeys } from '@agent-fleet/core';
import { type ReviewEvent, runIdSchema, type StoredReviewEvent } from '@agent-fleet/review';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireScope } from '../auth/guards.ts';
import type { GatewayDeps } from '../deps.ts';
import { visibleRun } from './review-access.ts';

const KEEP_ALIVE_MS = 15_000;
/** Statuses after which the stream ends (a cancelled run may be resumed: watch again then). */
const ENDING = new Set(['completed', 'failed', 'cancelled']);

/**
 * A run's progress as Server-Sent Events (`GET /v1/reviews/:reviewId/events`): first a `snapshot`
 * (the run as `GET /v1/reviews/:id` reports it), then `progress` for each document settled (with
 * the run's counts after it) and `status` for each change; the stream ends after the run completes,
 * fails or is cancelled. Resumable with Last-Event-ID (then without the snapshot).
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
          'Events: `snapshot` (the run’s status), `progress` ({ docId, outcome, documents, verdicts, tokens } ' +
          'after each document), `status` ({ status, generation }). Ends once the run has completed, failed ' +
          'or been cancelled. Send Last-Event-ID to resume after an event.',
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
      // The stream's current end, taken before the snapshot: events after it are sent, so nothing
      // between the snapshot and the tail is missed (progress events carry absolute counts).
      let last = resumeFrom ?? (await streamEnd(deps, run.runId));
      const snapshot = resumeFrom
        ? undefined
        : await deps.reviews.status((await deps.reviews.get(run.runId))!);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      let open = true;
      req.raw.on('close', () => {
        open = false;
      });
      let finished = false;
      if (snapshot) {
        res.write(`event: snapshot\ndata: ${JSON.stringify(snapshot)}\n\n`);
        finished = ENDING.has(snapshot.status);
      }
      const send = (e: StoredReviewEvent) => {
        res.write(`id: ${e.id}\nevent: ${e.event.type}\ndata: ${JSON.stringify(e.event)}\n\n`);
        last = e.id;
        if (endsStream(e.event)) finished = true;
      };
      const blocking = deps.redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
      try {
        while (open && !finished) {
          const batch = await deps.reviewEvents.read(run.runId, last, {
            blockMs: KEEP_ALIVE_MS,
            redis: blocking,
          });
          if (batch.length === 0) res.write(': keep-alive\n\n');
          for (const e of batch) send(e);
        }
      } catch (err) {
        req.log.warn(
          { err: (err as Error).message, reviewId: run.runId },
          'review event stream ended with an error',
        );
      } finally {
        blocking.disconnect();
        res.end();
      }
    },
  );
};

function endsStream(event: ReviewEvent): boolean {
  return event.type === 'status' && ENDING.has(event.status);
}

/** The id of the stream's last event, or '0' when it has none yet. */
async function streamEnd(deps: GatewayDeps, runId: string): Promise<string> {
  const key = reviewKeys(deps.config.FLEET_NAMESPACE, runId).events;
  const [entry] = await deps.redis.xrevrange(key, '+', '-', 'COUNT', 1);
  return entry?.[0] ?? '0';
}
