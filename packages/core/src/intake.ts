import { z } from 'zod';
import { idempotencyKeySchema, threadIdSchema, turnIdSchema, userIdSchema } from './ids.ts';
import { turnStatusSchema } from './statuses.ts';
import { storable } from './storable.ts';
import { turnTimingsSchema } from './turn-stages.ts';
import { turnUsageSchema } from './usage.ts';

/**
 * The public contract for producers outside the fleet (the SDK, and any BullMQ client in any
 * language): the intake queue, its message payload, what an intake job returns, and the result of
 * a turn. Each schema is versioned by its `v` (payload) or its file name (`*.v1.json`); a change
 * that could break a producer gets a new version, never an edit of v1.
 */

/** The intake queue: a plain BullMQ queue every producer may add to. */
export const INTAKE_QUEUE = 'agent.intake';

/** The job name producers give intake jobs. */
export const INTAKE_JOB_NAME = 'message';

/**
 * BullMQ prefix of the intake queue: one hash tag, since it is one queue (Redis Cluster keeps all
 * of its keys in one slot). With the default namespace the queue's keys are `fleet:{agent.intake}:*`.
 */
export function intakeQueuePrefix(namespace: string): string {
  return `${namespace}:{${INTAKE_QUEUE}}`;
}

/**
 * The intake consumer's own keys, in the intake queue's hash slot: `lease` names the one process
 * that takes intake jobs (a token with a TTL), `batch` lists the job ids of its current batch in
 * arrival order, so a consumer that takes over after a crash accepts the jobs it finds in flight
 * in that order.
 */
export function intakeConsumerKeys(namespace: string): { lease: string; batch: string } {
  const base = `${intakeQueuePrefix(namespace)}:consumer`;
  return { lease: `${base}:lease`, batch: `${base}:batch` };
}

/**
 * Version 1 of an intake message: one user message to accept as the user's next turn. Unknown
 * fields are refused so a misspelt field fails loudly. `text` may hold at most MAX_MESSAGE_BYTES
 * UTF-8 bytes (32 KiB by default), which the fleet checks (JSON Schema cannot count bytes), and no
 * NUL (Postgres cannot store one).
 */
export const intakeMessageSchema = z
  .strictObject({
    v: z.literal(1).describe('payload version: 1'),
    userId: userIdSchema.describe(
      'whose turn: letters, digits and ._@+-, 1-128, starting with a letter or digit',
    ),
    text: storable(
      z
        .string({ error: 'text is required and must be a string' })
        .min(1, 'text must not be empty')
        .regex(/\S/, 'text must not be blank'),
    ).describe('the user message, without NUL; at most MAX_MESSAGE_BYTES UTF-8 bytes (32 KiB by default)'),
    threadId: threadIdSchema.optional().describe('optional conversation thread'),
    idempotencyKey: idempotencyKeySchema
      .optional()
      .describe(
        "makes retries safe: the same key for the same user accepts the turn once (default: 'intake:<jobId>')",
      ),
  })
  .meta({
    title: 'agent-fleet intake message v1',
    description: `Data of a job named "${INTAKE_JOB_NAME}" on the BullMQ queue "${INTAKE_QUEUE}" with prefix "<namespace>:{${INTAKE_QUEUE}}".`,
  });
export type IntakeMessage = z.infer<typeof intakeMessageSchema>;

/** What an intake job returns (its BullMQ return value): how non-Node producers learn the turn id. */
export const intakeResultSchema = z
  .object({
    turnId: turnIdSchema,
    seq: z.number().int().positive().describe("the turn's place in the user's order, from 1"),
    created: z.boolean().describe('false when the idempotency key matched a turn accepted before'),
  })
  .meta({
    title: 'agent-fleet intake result v1',
    description: 'Return value of a completed intake job.',
  });
export type IntakeResult = z.infer<typeof intakeResultSchema>;

const isoTime = z.string().describe('ISO 8601 time (UTC)');

/** The result of a turn as `GET /v1/turns/:turnId` and the SDK's `getTurn` report it. */
export const turnResultSchema = z
  .object({
    turnId: turnIdSchema,
    userId: userIdSchema,
    seq: z.number().int().positive(),
    status: turnStatusSchema,
    threadId: threadIdSchema.optional(),
    enqueuedAt: isoTime.optional(),
    startedAt: isoTime.optional(),
    completedAt: isoTime.optional(),
    reply: z.string().optional().describe('the answer, once completed'),
    error: z.string().optional().describe('why the turn failed, once failed'),
    citations: z.array(z.unknown()).optional().describe('sources the reply cites, once completed'),
    attempts: z.number().int().nonnegative().optional().describe('deliveries so far'),
    timings: turnTimingsSchema
      .optional()
      .describe('where the time went, once the turn ended (while its hot record lasts)'),
    usage: turnUsageSchema.optional(),
  })
  .meta({
    title: 'agent-fleet turn result v1',
    description: 'The status of one turn and, once final, its reply or error.',
  });
export type TurnResult = z.infer<typeof turnResultSchema>;

/**
 * The JSON Schema files published with the client (`packages/client/schema/`), keyed by file name.
 * Draft-07, the dialect every mainstream validator (ajv, Python `jsonschema`, ...) reads.
 */
export function publicJsonSchemas(): Record<string, Record<string, unknown>> {
  const doc = (file: string, schema: z.ZodType) => ({
    $id: `urn:agent-fleet:schema:${file.replace(/\.json$/, '')}`,
    ...z.toJSONSchema(schema, { target: 'draft-7', io: 'input' }),
  });
  return {
    'intake-message.v1.json': doc('intake-message.v1.json', intakeMessageSchema),
    'intake-result.v1.json': doc('intake-result.v1.json', intakeResultSchema),
    'turn-result.v1.json': doc('turn-result.v1.json', turnResultSchema),
  };
}
