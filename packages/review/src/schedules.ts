import type { ReviewQueues } from './queues.ts';
import {
  newScheduleId,
  type ReviewScheduleView,
  type ScheduleInput,
  type ScheduleRecord,
} from './schedule.ts';
import type { ReviewScheduleStore } from './schedule-store.ts';
import type { NewRun, RunSpec } from './store-types.ts';

/** How many of a schedule's runs its view names. */
const RUNS_IN_VIEW = 20;

/**
 * Review schedules as the HTTP API drives them. A schedule is stored in Postgres and fired by a
 * BullMQ job scheduler on `review.runs` with the schedule's id; removing it marks it removed first,
 * so a firing that races the removal starts nothing, then removes the job scheduler.
 */
export class ReviewSchedules {
  readonly #store: ReviewScheduleStore;
  readonly #queues: ReviewQueues;

  constructor(opts: { store: ReviewScheduleStore; queues: ReviewQueues }) {
    this.#store = opts.store;
    this.#queues = opts.queues;
  }

  /**
   * Creates the schedule of a run about to be created (its first run), and its job scheduler; the
   * schedule is removed again when the job scheduler cannot be created. Uploads that failed are
   * left out of what reruns review.
   */
  async create(run: Omit<NewRun, 'runId'>, schedule: ScheduleInput): Promise<string> {
    const scheduleId = newScheduleId();
    await this.#store.create({
      scheduleId,
      userId: run.userId,
      tenant: run.tenant,
      ...(run.name ? { name: run.name } : {}),
      priority: run.priority,
      checklist: run.checklist,
      spec: withoutFailedUploads(run.spec),
      cron: schedule.cron,
      ...(schedule.tz ? { tz: schedule.tz } : {}),
      createdBy: run.createdBy,
    });
    try {
      await this.#queues.upsertSchedule(scheduleId, schedule.cron, schedule.tz, run.priority);
    } catch (err) {
      await this.#store.remove(scheduleId).catch(() => {});
      throw err;
    }
    return scheduleId;
  }

  get(scheduleId: string): Promise<ScheduleRecord | null> {
    return this.#store.get(scheduleId);
  }

  /** The schedule as `GET /v1/reviews/:id/schedule` reports it: with its next firing and its runs. */
  async view(s: ScheduleRecord): Promise<ReviewScheduleView> {
    const [next, runs] = await Promise.all([
      s.removedAt ? null : this.#queues.nextRunAt(s.scheduleId),
      this.#store.runs(s.scheduleId, RUNS_IN_VIEW),
    ]);
    return { ...summaryOf(s, next), runs };
  }

  async list(opts: { limit: number; before?: string; tenant?: string }) {
    const schedules = await this.#store.list(opts);
    const views = await Promise.all(
      schedules.map(async (s) =>
        summaryOf(s, s.removedAt ? null : await this.#queues.nextRunAt(s.scheduleId)),
      ),
    );
    return {
      schedules: views,
      nextBefore: schedules.length === opts.limit ? schedules[schedules.length - 1]!.scheduleId : null,
    };
  }

  /** Stops the schedule: no rerun starts after this (a run in progress goes on). Idempotent. */
  async remove(scheduleId: string): Promise<void> {
    await this.#store.remove(scheduleId);
    await this.#queues.removeSchedule(scheduleId);
  }
}

function summaryOf(s: ScheduleRecord, next: Date | null): Omit<ReviewScheduleView, 'runs'> {
  return {
    scheduleId: s.scheduleId,
    ...(s.name ? { name: s.name } : {}),
    userId: s.userId,
    cron: s.cron,
    ...(s.tz ? { tz: s.tz } : {}),
    active: !s.removedAt,
    nextRunAt: next ? next.toISOString() : null,
    createdAt: s.createdAt.toISOString(),
    ...(s.removedAt ? { removedAt: s.removedAt.toISOString() } : {}),
  };
}

function withoutFailedUploads(spec: RunSpec): RunSpec {
  return 'documents' in spec ? { documents: spec.documents } : spec;
}
