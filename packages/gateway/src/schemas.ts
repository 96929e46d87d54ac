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

const tokens = z.number().int().nonnegative();
const budget = z.number().int().nullable().meta({ description: 'tokens per window; null: no limit' });

const windowUseSchema = z.object({
  used: tokens.meta({ description: 'tokens (prompt + completion) used in the window so far' }),
  limit: budget,
  resetAt: z.string().meta({ description: 'when the window ends (ISO 8601, UTC)' }),
});

const budgetUsageSchema = z.object({
  day: windowUseSchema,
  month: windowUseSchema,
  held: tokens.meta({ description: 'tokens held by model calls in flight' }),
});

export const tenantQuotaViewSchema = z
  .object({
    tenant: z.string(),
    weight: z.number().meta({ description: 'share of the fleet when tenants compete' }),
    day: budget,
    month: budget,
    userDay: budget.meta({ description: 'per-user tokens per day for users without their own' }),
    userMonth: budget,
    softThreshold: z.number(),
    updatedAt: z.string().nullable().meta({ description: 'null: the tenant has the defaults' }),
    usage: budgetUsageSchema,
  })
  .meta({ id: 'TenantQuota' });

export const userQuotaViewSchema = z
  .object({
    userId: z.string(),
    tenant: z.string().nullable().meta({ description: 'the tenant the user counts under' }),
    day: budget,
    month: budget,
    own: z
      .boolean()
      .meta({ description: 'true when the user has budgets of their own, false: the tenant’s' }),
    updatedAt: z.string().nullable(),
    usage: budgetUsageSchema,
  })
  .meta({ id: 'UserQuota' });

const usageNumbers = {
  promptTokens: tokens,
  completionTokens: tokens,
  cachedTokens: tokens.meta({ description: 'prompt tokens the servers found in their prefix cache' }),
  totalTokens: tokens.meta({ description: 'prompt + completion: what budgets count' }),
  calls: tokens,
};

export const usageReportSchema = z
  .object({
    groupBy: z.enum(['day', 'user', 'model']),
    from: z.string(),
    to: z.string(),
    tenant: z.string().nullable(),
    userId: z.string().nullable(),
    rows: z.array(
      z.object({
        key: z.string().meta({ description: 'the day (YYYY-MM-DD, UTC), the userId or the model' }),
        ...usageNumbers,
      }),
    ),
    total: z.object(usageNumbers),
  })
  .meta({ id: 'UsageReport' });
