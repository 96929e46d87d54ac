import type { Job } from 'bullmq';
import type { ReviewJobData } from './jobs.ts';
import type { EngineResources } from './resources.ts';
import { settleAbandoned } from './run-document.ts';

/**
 * The flow's parent, run by BullMQ once every child has finished (or failed for good): documents
 * still pending then were abandoned by their jobs and are settled `failed` with the jobs' reasons,
 * and the run is completed. A parent of an older generation (the run was cancelled, maybe resumed)
 * changes nothing.
 */
export async function finishRun(
  r: EngineResources,
  data: ReviewJobData<'finish'>,
  job: Job,
): Promise<boolean> {
  const state = await r.store.state(data.runId);
  if (!state || state.generation !== data.generation || state.status !== 'running') return false;
  const reasons = failureByOrdinal(await job.getIgnoredChildrenFailures());
  for (const d of await r.store.documents(data.runId, { pending: true }))
    await settleAbandoned(
      r,
      { ...data, docId: d.docId, itemIds: [] },
      reasons.get(d.ordinal) ?? 'its job ended without a result',
    );
  if (!(await r.store.finish(data.runId, data.generation))) return false;
  await r.events.publish(data.runId, { type: 'status', status: 'completed', generation: data.generation });
  return true;
}

/** A `start` or `finish` job that failed for good: the run fails with that reason. */
export async function failRun(
  r: EngineResources,
  data: ReviewJobData<'start'>,
  reason: string,
): Promise<void> {
  if (await r.store.finish(data.runId, data.generation, reason))
    await r.events.publish(data.runId, { type: 'status', status: 'failed', generation: data.generation });
}

/** Failed children's reasons by document ordinal (child job ids end `.<ordinal>.<group>`). */
function failureByOrdinal(failures: Record<string, string>): Map<number, string> {
  const out = new Map<number, string>();
  for (const [key, reason] of Object.entries(failures)) {
    const parts = key.split('.');
    const ordinal = Number(parts[parts.length - 2]);
    if (Number.isInteger(ordinal) && !out.has(ordinal)) out.set(ordinal, reason);
  }
  return out;
}
