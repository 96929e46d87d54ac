import { createHash } from 'node:crypto';
import {
  FleetError,
  INTAKE_JOB_NAME,
  INTAKE_QUEUE,
  type IntakeResult,
  intakeMessageSchema,
  intakeQueuePrefix,
  type Logger,
  type RedisClient,
} from '@agent-fleet/core';
import type { AcceptedTurn, AcceptInput } from '@agent-fleet/turns';
import { type Job, Queue, UnrecoverableError, Worker } from 'bullmq';

/** What the intake needs of the turn producer: the one implementation of accepting a turn. */
export interface IntakeProducer {
  accept(input: AcceptInput): Promise<AcceptedTurn>;
}

export interface IntakeOptions {
  /** A BullMQ connection (`maxRetriesPerRequest: null`); the caller owns and closes it. */
  connection: RedisClient;
  namespace: string;
  producer: IntakeProducer;
  logger: Logger;
  /** Largest message text in UTF-8 bytes (MAX_MESSAGE_BYTES). */
  maxMessageBytes: number;
  lockDuration?: number;
  stalledInterval?: number;
  maxStalledCount?: number;
  /** How long a failing accept (Redis trouble) is retried in place before the job fails; default 60 s. */
  acceptRetryMs?: number;
}

export interface Intake {
  readonly worker: Worker;
  readonly queue: Queue;
  /** Stops taking intake jobs; the job in flight finishes first. */
  close(): Promise<void>;
}

/** Finished intake jobs kept for inspection (Bull Board), bounded so the queue does not grow forever. */
export const INTAKE_KEEP_COMPLETED = { age: 24 * 3600, count: 10_000 };
export const INTAKE_KEEP_FAILED = { age: 14 * 24 * 3600, count: 10_000 };

/**
 * Consume the intake queue: any producer (any language) adds a documented payload with a plain
 * BullMQ `add`, and the fleet accepts it as the user's next turn, moving it into the user's partition.
 *
 * Arrival order is kept: the queue's global concurrency is 1 and this worker's concurrency is 1, so
 * across every worker process one intake job runs at a time, taken from `wait` in the order the
 * jobs were added; a failing accept is retried in place (never sent to the back of the queue), and
 * a job whose worker died is moved back to the head of `wait` by BullMQ's stalled check. A payload
 * that fails the schema, or that the producer refuses (an idempotency key reused for another
 * text), fails once with a reason naming the field or key and is never retried.
 */
export async function startIntake(opts: IntakeOptions): Promise<Intake> {
  const prefix = intakeQueuePrefix(opts.namespace);
  const queue = new Queue(INTAKE_QUEUE, { connection: opts.connection, prefix });
  await queue.setGlobalConcurrency(1);
  const worker = new Worker(INTAKE_QUEUE, (job) => processIntakeJob(job, opts), {
    connection: opts.connection,
    prefix,
    concurrency: 1,
    removeOnComplete: INTAKE_KEEP_COMPLETED,
    removeOnFail: INTAKE_KEEP_FAILED,
    ...(opts.lockDuration ? { lockDuration: opts.lockDuration } : {}),
    ...(opts.stalledInterval ? { stalledInterval: opts.stalledInterval } : {}),
    ...(opts.maxStalledCount !== undefined ? { maxStalledCount: opts.maxStalledCount } : {}),
  });
  worker.on('error', (err) => opts.logger.warn({ err: err.message }, 'intake worker error'));
  worker.on('failed', (job, err) => {
    if (job?.finishedOn !== undefined)
      opts.logger.warn({ jobId: job.id, reason: err.message }, 'intake job failed');
  });
  await worker.waitUntilReady();
  return {
    worker,
    queue,
    async close() {
      await worker.close();
      await queue.close();
    },
  };
}

/** One intake job: validate, accept through the turn producer, return `{ turnId, seq, created }`. */
export async function processIntakeJob(
  job: Job,
  opts: Pick<IntakeOptions, 'producer' | 'logger' | 'maxMessageBytes' | 'acceptRetryMs'>,
): Promise<IntakeResult> {
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
