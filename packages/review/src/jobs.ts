import { type FleetConfig, type JobRetryPolicy, prefixedIdPattern, REVIEW_QUEUES } from '@agent-fleet/core';
import { type Job, UnrecoverableError } from 'bullmq';
import { z } from 'zod';
import { CHECKLIST_ITEM_ID } from './checklist.ts';
import { scheduleIdSchema } from './schedule.ts';

/** A run's id: `r_` and 32 hex digits (a BullMQ job id part: no `:`). */
export const RUN_ID_PATTERN = prefixedIdPattern('r');
export const runIdSchema = z
  .string()
  .regex(RUN_ID_PATTERN, 'a review id looks like r_ followed by 32 hex digits');

const runRef = { v: z.literal(1), runId: runIdSchema, generation: z.number().int().positive() };

/** Resolves the run's documents, settles what needs no model, and adds the run's flow. */
export const startJobSchema = z.strictObject(runRef);
/** The flow's parent: runs once every child has finished, and finishes the run. */
export const finishJobSchema = z.strictObject(runRef);
/** One document, or one document and a group of its items (a long document). */
export const documentJobSchema = z.strictObject({
  ...runRef,
  docId: z.string().min(1).max(128),
  itemIds: z.array(z.string().regex(CHECKLIST_ITEM_ID)).min(1),
});

/** Fired by a schedule's BullMQ job scheduler: creates and starts the schedule's next run. */
export const rerunJobSchema = z.strictObject({ v: z.literal(1), scheduleId: scheduleIdSchema });

/**
 * The review queues' job catalogue: each job name, the queue it runs on and its payload schema.
 * Retry policy and timeout come from {@link reviewJobPolicies}; the worker's handler map is typed
 * against this catalogue (`ReviewHandlers`), so a job name without a handler does not compile.
 */
export const REVIEW_JOBS = {
  start: { queue: REVIEW_QUEUES.runs, schema: startJobSchema },
  finish: { queue: REVIEW_QUEUES.runs, schema: finishJobSchema },
  document: { queue: REVIEW_QUEUES.docs, schema: documentJobSchema },
  rerun: { queue: REVIEW_QUEUES.runs, schema: rerunJobSchema },
} as const;
export type ReviewJobName = keyof typeof REVIEW_JOBS;
export type ReviewJobData<N extends ReviewJobName> = z.infer<(typeof REVIEW_JOBS)[N]['schema']>;
export type ReviewHandlers = {
  [N in ReviewJobName]: (data: ReviewJobData<N>, job: Job, signal: AbortSignal) => Promise<unknown>;
};

/** How a job is retried and how long one attempt may run. */
export interface ReviewJobPolicy {
  retry: JobRetryPolicy;
  timeoutMs: number;
}

/** The policy of every review job, from the configuration (REVIEW_ATTEMPTS, REVIEW_BACKOFF_MS, …). */
export function reviewJobPolicies(
  config: Pick<FleetConfig, 'REVIEW_ATTEMPTS' | 'REVIEW_BACKOFF_MS' | 'REVIEW_DOCUMENT_TIMEOUT_MS'>,
): Record<ReviewJobName, ReviewJobPolicy> {
  const retry = { attempts: config.REVIEW_ATTEMPTS, backoffMs: config.REVIEW_BACKOFF_MS };
  return {
    start: { retry, timeoutMs: 300_000 },
    finish: { retry, timeoutMs: 120_000 },
    document: { retry, timeoutMs: config.REVIEW_DOCUMENT_TIMEOUT_MS },
    rerun: { retry, timeoutMs: 60_000 },
  };
}

/**
 * Runs a job of `queue` through its handler, with the attempt bounded by its timeout. A job whose
 * name is not in the catalogue for this queue, or whose payload fails its schema, fails once with
 * the reason and is never retried.
 */
export async function dispatchReviewJob(
  queue: string,
  job: Job,
  handlers: ReviewHandlers,
  policies: Record<ReviewJobName, ReviewJobPolicy>,
): Promise<unknown> {
  const name = job.name as ReviewJobName;
  const entry = REVIEW_JOBS[name] as (typeof REVIEW_JOBS)[ReviewJobName] | undefined;
  if (!entry || entry.queue !== queue)
    throw new UnrecoverableError(`no job named "${job.name}" runs on ${queue}`);
  const parsed = entry.schema.safeParse(job.data);
  if (!parsed.success) {
    const reasons = parsed.error.issues.map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`);
    throw new UnrecoverableError(`invalid ${job.name} job: ${reasons.join('; ')}`);
  }
  const signal = AbortSignal.timeout(policies[name].timeoutMs);
  const handler = handlers[name] as (data: unknown, job: Job, signal: AbortSignal) => Promise<unknown>;
  return handler(parsed.data, job, signal);
}
