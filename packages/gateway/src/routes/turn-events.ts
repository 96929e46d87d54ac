import { FleetError, isFinalStatus, turnIdSchema } from '@agent-fleet/core';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { canAccessUser, requireScope } from '../auth/guards.ts';
import type { GatewayDeps } from '../deps.ts';
import { lastEventIdHeaders, SSE_KEEP_ALIVE_MS, type SseStream, serveEvents } from '../sse.ts';

/**
 * A turn's live events as Server-Sent Events (`GET /v1/turns/:turnId/events`, resumable with
 * Last-Event-ID; at most MAX_STREAMS_PER_PRINCIPAL open per caller), and cancelling a turn
 * (`POST /v1/turns/:turnId/cancel`).
 */
export const turnEventRoutes: FastifyPluginAsyncZod<GatewayDeps> = async (app, deps) => {
  const { control } = deps;

  /** The turn's owner, if the caller may see the turn; a turn of someone else looks like no turn. */
  const ownerFor = async (
    principal: Parameters<typeof canAccessUser>[0],
    turnId: string,
    scope: 'turns:read' | 'messages:write',
  ) => {
    const owner = await deps.records.owner(turnId);
    if (!owner || !canAccessUser(principal, owner, scope)) {
      throw new FleetError('not_found', `turn ${turnId} not found`, { details: { turnId } });
    }
    return owner;
  };

  app.get(
    '/v1/turns/:turnId/events',
    {
      onRequest: [requireScope('turns:read')],
      schema: {
        params: z.object({ turnId: turnIdSchema }),
        headers: lastEventIdHeaders,
      },
    },
    async (req, reply) => {
      const { turnId } = req.params;
      const userId = await ownerFor(req.principal!, turnId, 'turns:read');
      await serveEvents(
        req,
        reply,
        deps.streams,
        (sse) => sendTurnEvents(sse, deps, userId, turnId, req.headers['last-event-id']),
        { turnId },
      );
    },
  );

  app.post(
    '/v1/turns/:turnId/cancel',
    { onRequest: [requireScope('messages:write')], schema: { params: z.object({ turnId: turnIdSchema }) } },
    async (req, reply) => {
      const { turnId } = req.params;
      const userId = await ownerFor(req.principal!, turnId, 'messages:write');
      const record = await deps.records.get(turnId);
      if (record && isFinalStatus(record.status)) {
        throw new FleetError('conflict', `turn ${turnId} already ended: ${record.status}`, {
          details: { turnId, status: record.status },
        });
      }
      await control.requestCancel(userId, turnId);
      return reply.code(202).send({ turnId, status: 'cancelling' });
    },
  );
};

/**
 * The turn's events from `after` on until `done`. A turn that ended without events to show (they
 * expired an hour after it ended, or its `done` could not be published) gets a `done` made from its
 * record, at once or at the next keep-alive.
 */
async function sendTurnEvents(
  sse: SseStream,
  deps: Pick<GatewayDeps, 'events' | 'records'>,
  userId: string,
  turnId: string,
  after: string | undefined,
): Promise<void> {
  const ended = async () => {
    const record = await deps.records.get(turnId);
    if (!record || !isFinalStatus(record.status)) return false;
    const { status, reply, error, citations } = record;
    sse.send(JSON.stringify({ type: 'done', status, reply, error, citations }), { event: 'done' });
    return true;
  };
  if (!(await deps.events.exists(userId, turnId)) && (await ended())) return;
  const tail = deps.events.tail(userId, turnId, {
    ...(after ? { after } : {}),
    signal: sse.signal,
    keepAliveMs: SSE_KEEP_ALIVE_MS,
  });
  for await (const item of tail) {
    if (item.kind === 'event') sse.send(JSON.stringify(item.event), { id: item.id, event: item.event.type });
    else if (await ended()) return;
    else sse.comment('keep-alive');
  }
}
