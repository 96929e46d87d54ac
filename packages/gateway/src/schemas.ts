import { turnResultSchema } from '@agent-fleet/core';
import { profileSchema as storedProfileSchema } from '@agent-fleet/state';
import { z } from 'zod';

/**
 * Response schemas shared by the routes. They are what the OpenAPI document at /docs shows, and
 * Fastify serializes each response through them, so a route cannot send a shape it did not declare.
 */

/** The one error shape of every 4xx/5xx (the OpenAI-compatible routes have their own, see openai-errors.ts). */
export const errorBodySchema = z
  .object({
    error: z.object({
      code: z.string().meta({ description: 'stable machine-readable code, e.g. invalid_request, forbidden' }),
      message: z.string().meta({ description: 'what was wrong, for a person' }),
      details: z.record(z.string(), z.unknown()).optional(),
    }),
  })
  .meta({ id: 'Error' });

/** `4xx` and `5xx` answers of a route: always the error shape. */
export const errorResponses = { '4xx': errorBodySchema, '5xx': errorBodySchema } as const;

export const acceptedTurnSchema = z
  .object({
    turnId: z.string(),
    seq: z.number().int().meta({ description: 'the turn’s place in its user’s order, from 1' }),
    status: z.literal('queued'),
    replayed: z.boolean().meta({ description: 'true when an Idempotency-Key returned an earlier turn' }),
  })
  .meta({ id: 'AcceptedTurn' });

/** The turn as `GET /v1/turns/:turnId` reports it: core's schema, which the SDK and JSON Schema share. */
export const turnSchema = turnResultSchema.meta({ id: 'Turn' });

export const historySchema = z
  .object({
    userId: z.string(),
    messages: z.array(
      z.object({
        turnId: z.string(),
        seq: z.number().int(),
        role: z.enum(['user', 'assistant']),
        content: z.string(),
        createdAt: z.string(),
      }),
    ),
    nextAfterSeq: z.number().int().nullable().meta({ description: 'pass as afterSeq for the next page' }),
  })
  .meta({ id: 'History' });

export const profileSchema = storedProfileSchema.meta({ id: 'Profile' });

export const ingestResultSchema = z
  .object({
    docId: z.string(),
    title: z.string(),
    status: z.enum(['created', 'replaced', 'unchanged']),
    chunks: z.number().int(),
  })
  .meta({ id: 'IngestResult' });
