import { FleetError, newPrefixedId } from '@agent-fleet/core';
import type { Checklist } from './checklist.ts';
import type { ReviewEvents } from './events.ts';
import { launchRun } from './launch.ts';
import type { ReviewQueues } from './queues.ts';
import type { ScheduleInput } from './schedule.ts';
import type { ReviewSchedules } from './schedules.ts';
import { isFinalReviewStatus, type ReviewPriority, type ReviewStatus } from './statuses.ts';
import type { ReviewStore, RunRecord, RunSpec } from './store.ts';
import { buildReport, type ReviewReport, type ReviewStatusView, statusView, summaryView } from './views.ts';

/** A run's id: `r_` and 32 hex digits (`RUN_ID_PATTERN`). */
export const newRunId = (): string => newPrefixedId('r');

export interface NewReview {
  userId: string;
  tenant: string;
  checklist: Checklist;
  spec: RunSpec;
  priority: ReviewPriority;
  name?: string;
  createdBy: string;
  /** Rerun on this cron pattern; each rerun reviews only documents whose content changed. */
  schedule?: ScheduleInput;
}

/**
 * Review runs as the HTTP API (and any other front) drives them: create, read, list, cancel, resume
 * and report. A run is created in Postgres and started by one `start` job; a cancel stops its jobs
 * at their next step and keeps what was recorded; a resume starts a new generation that reviews
 * only the documents still pending, so each document is reviewed once across any number of
 * cancels and resumes.
 */
export class ReviewRuns {
  readonly #store: ReviewStore;
  readonly #queues: ReviewQueues;
  readonly #events: ReviewEvents;
  readonly #schedules: ReviewSchedules;

  constructor(opts: {
    store: ReviewStore;
    queues: ReviewQueues;
    events: ReviewEvents;
    schedules: ReviewSchedules;
  }) {
    this.#store = opts.store;
    this.#queues = opts.queues;
    this.#events = opts.events;
    this.#schedules = opts.schedules;
  }

  /** Creates and starts a run; with a schedule, the schedule too (this run is its first). */
  async create(input: NewReview): Promise<{ reviewId: string; scheduleId?: string }> {
    const { schedule, ...run } = input;
    const runId = newRunId();
    const scheduleId = schedule ? await this.#schedules.create(run, schedule) : undefined;
    try {
      await launchRun(this.#store, this.#queues, { runId, ...run, ...(scheduleId ? { scheduleId } : {}) });
    } catch (err) {
      // A schedule whose first run could not be created would fire reruns nobody asked for.
      if (scheduleId) await this.#schedules.remove(scheduleId).catch(() => {});
      throw err;
    }
    return { reviewId: runId, ...(scheduleId ? { scheduleId } : {}) };
  }

  get(runId: string): Promise<RunRecord | null> {
    return this.#store.getRun(runId);
  }

  async status(run: RunRecord): Promise<ReviewStatusView> {
    return statusView(run, await this.#store.progress(run.runId));
  }

  async list(opts: { limit: number; before?: string; tenant?: string }) {
    const runs = await this.#store.listRuns(opts);
    return {
      reviews: runs.map(summaryView),
      nextBefore: runs.length === opts.limit ? runs[runs.length - 1]!.runId : null,
    };
  }

  /** Cancels a queued or running run; a run that already ended is a 409 naming its status. */
  async cancel(run: RunRecord): Promise<ReviewStatus> {
    const result = await this.#store.cancel(run.runId);
    if (!result?.changed) throw conflict(run.runId, result?.status ?? run.status, 'cancel');
    await this.#events.publish(run.runId, {
      type: 'status',
      status: 'cancelled',
      generation: run.generation,
    });
    return 'cancelled';
  }

  /** Resumes a cancelled run with its next generation; anything else is a 409. */
  async resume(run: RunRecord): Promise<{ generation: number }> {
    const generation = await this.#store.resume(run.runId);
    if (generation === null) throw conflict(run.runId, run.status, 'resume');
    await this.#events.publish(run.runId, { type: 'status', status: 'queued', generation });
    await this.#queues.start({ v: 1, runId: run.runId, generation }, run.priority);
    return { generation };
  }

  async report(run: RunRecord): Promise<ReviewReport> {
    const [progress, documents, findings] = await Promise.all([
      this.#store.progress(run.runId),
      this.#store.documents(run.runId),
      this.#store.findings(run.runId),
    ]);
    return buildReport(run, progress, documents, findings);
  }
}

function conflict(runId: string, status: ReviewStatus, what: 'cancel' | 'resume'): FleetError {
  const why =
    what === 'cancel'
      ? isFinalReviewStatus(status)
        ? `it already ended: ${status}`
        : `it is ${status}`
      : `only a cancelled run can be resumed; it is ${status}`;
  return new FleetError('conflict', `cannot ${what} review ${runId}: ${why}`, {
    details: { reviewId: runId, status },
  });
}
