import { FleetError, isFinalStatus, turnIdSchema } from '@agent-fleet/core';
import type { StoredEvent } from '@agent-fleet/turns';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { canAccessUser, requireScope } from '../auth/guards.ts';
import type { GatewayDeps } from '../deps.ts';

const KEEP_ALIVE_MS = 15_000;

/**
 * A turn's live events as Server-Sent Events (`GET /v1/turns/:turnId/events`, resumable with
 * Last-Event-ID), and cancelling a turn (`POST /v1/turns/:turnId/cancel`).
 */
export const turnEventRoutes: FastifyPluginAsyncZod<GatewayDeps> = async (app, deps) => {
  const { events, control } = deps;

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
        headers: z.object({
          'last-event-id': z
            .string()
            .regex(/^\d+-\d+$/, 'Last-Event-ID must be an event id')
            .optional(),
        }),
      },
    },
    async (req, reply) => {
      const { turnId } = req.params;
      const userId = await ownerFor(req.principal!, turnId, 'turns:read');
      let last = req.headers['last-event-id'] ?? '0';
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
      const send = (e: StoredEvent) => {
        res.write(`id: ${e.id}\nevent: ${e.event.type}\ndata: ${JSON.stringify(e.event)}\n\n`);
        last = e.id;
        return e.event.type === 'done';
      };
      // A blocking read holds its connection: each stream gets one of its own.
      const blocking = deps.redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
      try {
        let finished = false;
        for (const e of await events.read(userId, turnId, last)) if (send(e)) finished = true;
        if (!finished) {
          const record = await deps.records.get(turnId);
          if (record && isFinalStatus(record.status) && last === '0') {
            // The live events have expired; say how the turn ended.
            res.write(
              `event: done\ndata: ${JSON.stringify({ type: 'done', status: record.status, reply: record.reply, error: record.error, citations: record.citations })}\n\n`,
            );
            finished = true;
          }
        }
        while (open && !finished) {
          const batch = await events.read(userId, turnId, last, { blockMs: KEEP_ALIVE_MS, redis: blocking });
          if (batch.length === 0) res.write(': keep-alive\n\n');
          for (const e of batch) if (send(e)) finished = true;
        }
      } catch (err) {
        req.log.warn({ err: (err as Error).message, turnId }, 'event stream ended with an error');
      } finally {
        blocking.disconnect();
        res.end();
      }
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
