import { z } from 'zod';
import { threadIdSchema, turnIdSchema, userIdSchema } from './ids.ts';
import { traceCarrierSchema } from './tracing.ts';

/** Version 1 of the payload of a job on a partition queue: one user message to answer. */
export const turnJobSchema = z.object({
  v: z.literal(1),
  kind: z.literal('chat'),
  userId: userIdSchema,
  seq: z.number().int().positive(),
  turnId: turnIdSchema,
  text: z.string().min(1),
  threadId: threadIdSchema.optional(),
  enqueuedAt: z.number().int().nonnegative(),
  /** Sent with the `coalesce` strategy: may be merged into the user's earliest turn not started yet. */
  coalesce: z.boolean().optional(),
  /**
   * The trace the turn belongs to: the accepting span's W3C context, so every delivery (parked,
   * woken, redelivered after a crash) joins one trace; `delivery` is the last delivery's span, which
   * the next one links to.
   */
  trace: traceCarrierSchema
    .extend({ delivery: traceCarrierSchema.shape.traceparent.optional() })
    .optional()
    // A malformed trace context costs the turn its trace, never the turn.
    .catch(undefined),
  /**
   * Fair queueing's tag (QUEUE_ORDER=fair): the tenant the turn counts under, its start tag, the
   * tokens it was estimated at (`prompt`: the part of them its message and history are; the rest
   * is learned from earlier turns), the tenant's weight. `deferred`: the user had turns ahead of it when
   * it was accepted, so it is tagged when it becomes the user's next turn (its start is 0 until
   * then). Set when the job is added, never stored in `pending` (a job added again by a repair goes
   * first, untagged: it has waited already).
   */
  fair: z
    .object({
      tenant: z.string().min(1),
      start: z.number().nonnegative(),
      cost: z.number().nonnegative(),
      prompt: z.number().nonnegative().optional(),
      weight: z.number().positive(),
      deferred: z.boolean().optional(),
    })
    .optional(),
});
export type TurnJob = z.infer<typeof turnJobSchema>;

/** The job name on partition queues. */
export const TURN_JOB_NAME = 'turn';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** A message as kept in history and transcript: tagged with the turn that produced it. */
export interface HistoryMessage extends ChatMessage {
  turnId: string;
  seq: number;
  /** Tokens of this message in a prompt (content plus the chat template's per-message overhead). */
  tokens?: number;
}

/** How a queue's jobs are retried: attempts in all, and the first backoff (doubling each attempt). */
export interface JobRetryPolicy {
  attempts: number;
  backoffMs: number;
}

/** BullMQ's job options for a retry policy. */
export function retryOptions(policy: JobRetryPolicy): {
  attempts: number;
  backoff: { type: 'exponential'; delay: number };
} {
  return { attempts: policy.attempts, backoff: { type: 'exponential', delay: policy.backoffMs } };
}
