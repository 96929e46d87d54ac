import { FleetError, turnIdSchema, turnUsageOf, userIdSchema } from '@agent-fleet/core';
import { toTurnResult } from '@agent-fleet/turns';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { canAccessUser, requireScope, requireUserAccess } from '../auth/guards.ts';
import type { GatewayDeps } from '../deps.ts';
import { errorResponses, historySchema, turnSchema } from '../schemas.ts';

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

/** Turn status and user history. Redis holds the hot turn record; Postgres answers when it has expired. */
export const turnRoutes: FastifyPluginAsyncZod<GatewayDeps> = async (app, deps) => {
  const notFound = (turnId: string) =>
    new FleetError('not_found', `turn ${turnId} not found`, { details: { turnId } });
  app.get(
    '/v1/turns/:turnId',
    {
      onRequest: [requireScope('turns:read')],
      schema: {
        tags: ['turns'],
        summary: 'A turn: status, timings, token usage and, when done, the reply',
        description: 'Another user’s turn is reported as not found (404), so turn ids cannot be probed.',
        params: z.object({ turnId: turnIdSchema }),
        response: { 200: turnSchema, ...errorResponses },
      },
    },
    async (req) => {
      const { turnId } = req.params;
      const hot = await deps.records.get(turnId);
      // Another user's turn is reported as unknown, so turn ids of others cannot be probed.
      if (hot && !canAccessUser(req.principal!, hot.userId, 'turns:read')) throw notFound(turnId);
      if (hot) return toTurnResult(hot);
      const cold = await deps.transcript.getTurn(turnId);
      if (!cold || !canAccessUser(req.principal!, cold.userId, 'turns:read')) throw notFound(turnId);
      const lines = await deps.ledger.turnLines(turnId);
      return {
        turnId,
        userId: cold.userId,
        seq: cold.seq,
        status: cold.status,
        threadId: cold.threadId,
        enqueuedAt: iso(cold.enqueuedAt),
        startedAt: iso(cold.startedAt),
        completedAt: iso(cold.completedAt),
        reply: cold.messages.find((m) => m.role === 'assistant')?.content,
        citations: cold.status === 'completed' ? (cold.citations ?? []) : undefined,
        error: cold.error,
        ...(lines.length > 0 ? { usage: turnUsageOf(lines) } : {}),
      };
    },
  );

  app.get(
    '/v1/users/:userId/history',
    {
      onRequest: [requireUserAccess('turns:read')],
      schema: {
        tags: ['turns'],
        summary: 'The user’s messages in acceptance order',
        description:
          'At most `limit` messages per page, in whole turns (a turn with more messages comes whole, alone). ' +
          'Pass `nextAfterSeq` as `afterSeq` for the next page; it is null on the last page.',
        params: z.object({ userId: userIdSchema }),
        response: { 200: historySchema, ...errorResponses },
        querystring: z.object({
          limit: z.coerce.number().int().min(1).max(1000).default(200),
          afterSeq: z.coerce.number().int().min(0).default(0),
        }),
      },
    },
    async (req) => {
      const { limit, afterSeq } = req.query;
      const page = await deps.transcript.history(req.params.userId, { limit, afterSeq });
      return { userId: req.params.userId, ...page };
    },
  );
};
