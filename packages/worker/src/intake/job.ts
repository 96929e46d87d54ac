import { createHash } from 'node:crypto';
import {
  FleetError,
  INTAKE_JOB_NAME,
  type IntakeResult,
  intakeMessageSchema,
  type Logger,
} from '@agent-fleet/core';
import type { AcceptedTurn, AcceptInput } from '@agent-fleet/turns';
import { type Job, UnrecoverableError } from 'bullmq';

/** What the intake needs of the turn producer: the one implementation of accepting a turn. */
export interface IntakeProducer {
  accept(input: AcceptInput): Promise<AcceptedTurn>;
}

export interface IntakeJobOptions {
  producer: IntakeProducer;
  logger: Logger;
  /** Largest message text in UTF-8 bytes (MAX_MESSAGE_BYTES). */
  maxMessageBytes: number;
  /** How long a failing accept (Redis trouble) is retried in place before the job fails; default 60 s. */
  acceptRetryMs?: number;
}

/** One intake job: validate, accept through the turn producer, return `{ turnId, seq, created }`. */
export async function processIntakeJob(job: Job, opts: IntakeJobOptions): Promise<IntakeResult> {
  if (job.name !== INTAKE_JOB_NAME) {
    throw new UnrecoverableError(
      `invalid intake job: its name is "${job.name}"; intake jobs are named "${INTAKE_JOB_NAME}"`,
    );
  }
  const parsed = intakeMessageSchema.safeParse(job.data);
  if (!parsed.success) {
    const reasons = parsed.error.issues.map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`);
    throw new UnrecoverableError(`invalid intake message: ${reasons.join('; ')}`);
  }
  const msg = parsed.data;
  const bytes = Buffer.byteLength(msg.text, 'utf8');
  if (bytes > opts.maxMessageBytes) {
    throw new UnrecoverableError(
      `invalid intake message: text: text is ${bytes} bytes; the limit is ${opts.maxMessageBytes} bytes`,
    );
  }
  const input: AcceptInput = {
    userId: msg.userId,
    text: msg.text,
    ...(msg.threadId ? { threadId: msg.threadId } : {}),
    idempotencyKey: msg.idempotencyKey ?? intakeIdempotencyKey(String(job.id)),
  };
  const deadline = Date.now() + (opts.acceptRetryMs ?? 60_000);
  for (let attempt = 1, delay = 50; ; attempt++, delay = Math.min(delay * 2, 2000)) {
    try {
      const turn = await opts.producer.accept(input);
      return { turnId: turn.turnId, seq: turn.seq, created: turn.created };
    } catch (err) {
      // A refusal (a reused idempotency key, …) is the same on every try.
      if (err instanceof FleetError && !err.isRetryable)
        throw new UnrecoverableError(`could not accept the message: ${err.message}`);
      if (Date.now() + delay > deadline) {
        // Kept in the failed set (INTAKE_KEEP_FAILED) for an operator to retry from Bull Board.
        throw new UnrecoverableError(
          `could not accept the message after ${attempt} tries: ${(err as Error).message}`,
        );
      }
      opts.logger.warn(
        { jobId: job.id, attempt, err: (err as Error).message },
        'intake accept failed; retrying',
      );
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

const PRINTABLE = /^[\x21-\x7e]{1,200}$/;

/**
 * The idempotency key of an intake job that brought none: derived from the job id, so a job
 * delivered twice (its worker died after accepting) is accepted once.
 */
export function intakeIdempotencyKey(jobId: string): string {
  return PRINTABLE.test(jobId)
    ? `intake:${jobId}`
    : `intake:h:${createHash('sha256').update(jobId).digest('hex')}`;
}
