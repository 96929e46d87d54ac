import { FleetError } from '@agent-fleet/core';
import type { Job } from 'bullmq';
import { noUsage, type Usage } from './finding.ts';
import type { ReviewJobData } from './jobs.ts';
import { announcer, type EngineResources } from './resources.ts';
import { describeError, type TaskResult } from './reviewer.ts';
import type { DocumentError } from './store.ts';

/** Statuses in which a run's jobs go on; anything else (cancelled, finished) stops them. */
const LIVE = new Set(['queued', 'running']);

/**
 * The `document` job: reviews the items it covers that have no finding yet (a redelivery resumes
 * after the last recorded group), recording each group's findings as it goes, then settles what
 * the review returned. On a rerun, items whose findings the previous run recorded for the same
 * content are carried instead of reviewed. It stops, leaving the rest pending, when the run was cancelled or a resume
 * started a newer generation. An error that retrying cannot help, or one on the last attempt,
 * settles the document `failed` with that error; the run goes on.
 */
export async function reviewDocumentJob(
  r: EngineResources,
  data: ReviewJobData<'document'>,
  job: Job,
  signal: AbortSignal,
): Promise<TaskResult['kind'] | 'skipped'> {
  const run = await r.store.getRun(data.runId);
  if (!run || run.generation !== data.generation || !LIVE.has(run.status)) return 'skipped';
  const done = await r.store.itemsDone(data.runId, data.docId);
  const items = run.checklist.items.filter((i) => data.itemIds.includes(i.id) && !done.has(i.id));
  if (items.length === 0) return 'skipped';
  const shouldStop = async () => {
    const state = await r.store.state(data.runId);
    return !state || state.generation !== data.generation || !LIVE.has(state.status);
  };
  const previousRunId = run.previousRunId;
  const carry = previousRunId
    ? async (doc: { title: string; contentHash: string }) => {
        const ids = items.map((i) => i.id);
        const settled = announcer(r, data, data.docId, 'reviewed');
        return (await r.store.carryFindings(data.runId, data.docId, previousRunId, doc, ids, settled))
          .carried;
      }
    : undefined;
  let result: TaskResult;
  try {
    result = await r.reviewer.review({
      userId: run.userId,
      docId: data.docId,
      items,
      signal,
      shouldStop,
      ...(carry ? { carry } : {}),
      record: async ({ doc, findings, usage }) => {
        await r.store.recordFindings(
          data.runId,
          data.docId,
          doc,
          findings,
          usage,
          announcer(r, data, data.docId, 'reviewed'),
        );
      },
    });
  } catch (err) {
    if (isRetryable(err) && !isLastAttempt(job)) throw err;
    result = { kind: 'failed', error: describeError(err), usage: noUsage() };
  }
  await settle(r, data, result);
  return result.kind;
}

/** Records a result that findings did not settle already. */
async function settle(
  r: EngineResources,
  data: ReviewJobData<'document'>,
  result: TaskResult,
): Promise<void> {
  switch (result.kind) {
    case 'reviewed':
      return;
    case 'stopped':
      await r.store.addUsage(data.runId, result.usage);
      return;
    case 'not_permitted':
    case 'not_found':
      return settleAs(r, data, result.kind, result.usage);
    case 'failed':
      return settleAs(r, data, 'failed', result.usage, result.error);
  }
}

async function settleAs(
  r: EngineResources,
  data: ReviewJobData<'document'>,
  outcome: 'not_permitted' | 'not_found' | 'failed',
  usage: Usage,
  error?: DocumentError,
): Promise<void> {
  await r.store.settleDocument(
    data.runId,
    data.docId,
    outcome,
    usage,
    error,
    announcer(r, data, data.docId, outcome),
  );
}

/**
 * Settles, as failed with `reason`, a document whose job failed for good without settling it (it
 * stalled too often: its worker kept dying). Called from the worker's `failed` event.
 */
export async function settleAbandoned(r: EngineResources, data: ReviewJobData<'document'>, reason: string) {
  await settleAs(r, data, 'failed', noUsage(), {
    code: 'internal',
    message: `the review of this document did not finish: ${reason}`,
  });
}

/**
 * Whether trying again can help: a FleetError says so itself (a refused request never, a server
 * error or an unavailable dependency yes); anything else (a dropped connection, the attempt's
 * timeout) is tried again within the job's attempts.
 */
function isRetryable(err: unknown): boolean {
  return err instanceof FleetError ? err.isRetryable : true;
}

function isLastAttempt(job: Job): boolean {
  return job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}
