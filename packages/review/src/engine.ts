import { REVIEW_QUEUES } from '@agent-fleet/core';
import type { Job } from 'bullmq';
import { documentJobSchema, type ReviewHandlers, startJobSchema } from './jobs.ts';
import type { EngineResources } from './resources.ts';
import { reviewDocumentJob, settleAbandoned } from './run-document.ts';
import { failRun, finishRun } from './run-finish.ts';
import { rerunSchedule } from './run-scheduled.ts';
import { startRun } from './run-start.ts';

/** The handler of every job in the review catalogue; the compiler checks none is missing. */
export function reviewHandlers(r: EngineResources): ReviewHandlers {
  return {
    start: (data) => startRun(r, data),
    document: (data, job, signal) => reviewDocumentJob(r, data, job, signal),
    finish: (data, job) => finishRun(r, data, job),
    rerun: (data, job) => rerunSchedule(r, data, job),
  };
}

/**
 * What a job that failed for good leaves behind is recorded: a `start` or `finish` job fails its
 * run; a `document` job (it stalled too often, or its payload was refused) settles its document as
 * failed, so the report is complete and the run goes on. Called from the workers' `failed` events.
 */
export async function recordFinalFailure(r: EngineResources, queue: string, job: Job, reason: string) {
  if (queue === REVIEW_QUEUES.docs) {
    const data = documentJobSchema.safeParse(job.data);
    if (data.success) await settleAbandoned(r, data.data, reason);
    return;
  }
  // A rerun that failed for good started no run: the next firing tries again.
  const data = startJobSchema.safeParse(job.data);
  if (data.success) await failRun(r, data.data, `${job.name} failed: ${reason}`);
}
