import { createHash } from 'node:crypto';
import type { Job } from 'bullmq';
import type { ReviewJobData } from './jobs.ts';
import { launchRun } from './launch.ts';
import type { EngineResources } from './resources.ts';

export type RerunResult =
  | { kind: 'started'; runId: string; previousRunId: string | null }
  | { kind: 'skipped'; reason: 'removed' | 'previous_run_live' };

/**
 * The `rerun` job a schedule's job scheduler adds at each firing: starts the schedule's next run over
 * its documents, linked to the schedule's latest completed run, whose findings it carries for
 * documents whose content did not change. The run's id derives from the firing's job id, so a
 * redelivered job starts one run. A firing while a run of the schedule is still queued or running
 * starts nothing (the next firing will); a removed schedule's scheduler is removed too.
 */
export async function rerunSchedule(
  r: EngineResources,
  data: ReviewJobData<'rerun'>,
  job: Job,
): Promise<RerunResult> {
  const schedule = await r.schedules.get(data.scheduleId);
  if (!schedule || schedule.removedAt) {
    await r.queues.removeSchedule(data.scheduleId);
    return { kind: 'skipped', reason: 'removed' };
  }
  const runId = `r_${createHash('sha256').update(`rerun ${job.id}`).digest('hex').slice(0, 32)}`;
  const existing = await r.store.getRun(runId);
  if (!existing && (await r.schedules.hasLiveRun(schedule.scheduleId)))
    return { kind: 'skipped', reason: 'previous_run_live' };
  const previousRunId = existing
    ? (existing.previousRunId ?? null)
    : await r.schedules.lastCompletedRun(schedule.scheduleId);
  await launchRun(r.store, r.queues, {
    runId,
    userId: schedule.userId,
    tenant: schedule.tenant,
    priority: schedule.priority,
    checklist: schedule.checklist,
    spec: schedule.spec,
    createdBy: schedule.createdBy,
    scheduleId: schedule.scheduleId,
    ...(schedule.name ? { name: schedule.name } : {}),
    ...(previousRunId ? { previousRunId } : {}),
  });
  return { kind: 'started', runId, previousRunId };
}
