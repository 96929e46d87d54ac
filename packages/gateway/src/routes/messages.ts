import {
  doubleTextingSchema,
  FleetError,
  idempotencyKeySchema,
  threadIdSchema,
  userIdSchema,
} from '@agent-fleet/core';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireUserAccess } from '../auth/guards.ts';
import type { GatewayDeps } from '../deps.ts';
import { acceptedTurnSchema, errorResponses } from '../schemas.ts';

/** POST /v1/users/:userId/messages: accept a user message as the user's next turn. */
export const messageRoutes: FastifyPluginAsyncZod<GatewayDeps> = async (app, deps) => {
  const maxBytes = deps.config.MAX_MESSAGE_BYTES;
  app.post(
    '/v1/users/:userId/messages',
    {
      onRequest: [requireUserAccess('messages:write'), deps.shedder.guard],
      schema: {
        tags: ['turns'],
        summary: 'Accept a user message as the user’s next turn',
        description:
          'Answers 202 at once; the turn runs when the user’s earlier turns are done. The same ' +
          'Idempotency-Key returns the same turn and enqueues nothing. A used-up token budget of the ' +
          'user or their tenant answers 429 quota_exceeded with details.resetAt, and accepts nothing. ' +
          'Needs a user token of this user, or an API key with messages:write that acts for users.',
        params: z.object({ userId: userIdSchema }),
        headers: z.object({ 'idempotency-key': idempotencyKeySchema.optional() }),
        body: z.object({
          text: z
            .string({ error: 'text is required and must be a string' })
            .refine((s) => s.trim().length > 0, 'text must not be empty'),
          threadId: threadIdSchema.optional(),
          doubleTexting: doubleTextingSchema
            .optional()
            .describe(
              "When the user's previous turn is still queued or running: enqueue (default, strict order), " +
                'reject (409 naming the turn in progress), interrupt (it stops at its next step and this one runs next), ' +
                'or coalesce (messages not started yet run as one turn). ' +
                "Defaults to the profile's doubleTexting setting.",
            ),
        }),
        response: { 202: acceptedTurnSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const { text, threadId } = req.body;
      const bytes = Buffer.byteLength(text, 'utf8');
      if (bytes > maxBytes) {
        throw new FleetError('payload_too_large', `text is ${bytes} bytes; the limit is ${maxBytes} bytes`, {
          details: { field: 'body.text', bytes, limit: maxBytes },
        });
      }
      // The profile gives the tenant whose budgets and fair share the turn counts under.
      const profile = await deps.profileCache.get(req.params.userId);
      const doubleTexting = req.body.doubleTexting ?? profile?.settings.doubleTexting ?? 'enqueue';
      const idem = req.headers['idempotency-key'];
      const turn = await deps.producer.accept({
        userId: req.params.userId,
        tenant: profile?.tenant ?? null,
        text,
        ...(threadId ? { threadId } : {}),
        ...(idem ? { idempotencyKey: idem } : {}),
        doubleTexting,
      });
      if (turn.created) deps.metrics.accepted.inc();
      return reply
        .code(202)
        .header('location', `/v1/turns/${turn.turnId}`)
        .send({ turnId: turn.turnId, seq: turn.seq, status: 'queued', replayed: !turn.created });
    },
  );
};
