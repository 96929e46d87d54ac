import type { Pool } from 'pg';
import type { ScheduleRecord } from './schedule.ts';
import { newestFirstPage } from './store-rows.ts';

const COLUMNS =
  'schedule_id, user_id, tenant, name, priority, checklist, spec, cron, tz, created_by, created_at, removed_at';

/**
 * Review schedules in Postgres (migration 1765100000000_review-schedules.sql), and the questions a
 * rerun asks about its schedule's runs. A removed schedule stays (its runs name it) and never
 * starts a rerun again.
 */
export class ReviewScheduleStore {
  readonly #pool: Pool;

  constructor(opts: { pool: Pool }) {
    this.#pool = opts.pool;
  }

  async create(s: Omit<ScheduleRecord, 'createdAt' | 'removedAt'>): Promise<void> {
    await this.#pool.query(
      `INSERT INTO review_schedules (schedule_id, user_id, tenant, name, priority, checklist, spec, cron, tz, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
        s.scheduleId,
        s.userId,
        s.tenant,
        s.name ?? null,
        s.priority,
        JSON.stringify(s.checklist),
        JSON.stringify(s.spec),
        s.cron,
        s.tz ?? null,
        s.createdBy,
      ],
    );
  }

  async get(scheduleId: string): Promise<ScheduleRecord | null> {
    const res = await this.#pool.query(`SELECT ${COLUMNS} FROM review_schedules WHERE schedule_id = $1`, [
      scheduleId,
    ]);
    return res.rows[0] ? scheduleOf(res.rows[0]) : null;
  }

  /** Schedules newest first, of one tenant when given; `before` is the last scheduleId of the previous page. */
  async list(opts: { limit: number; before?: string; tenant?: string }): Promise<ScheduleRecord[]> {
    return (await newestFirstPage(this.#pool, 'review_schedules', 'schedule_id', COLUMNS, opts)).map(
      scheduleOf,
    );
  }

  /** Marks the schedule removed; resolves whether this call removed it. */
  async remove(scheduleId: string): Promise<boolean> {
    const res = await this.#pool.query(
      'UPDATE review_schedules SET removed_at = now() WHERE schedule_id = $1 AND removed_at IS NULL',
      [scheduleId],
    );
    return (res.rowCount ?? 0) > 0;
  }

  /** Ids of the schedule's runs, newest first. */
  async runs(scheduleId: string, limit: number): Promise<string[]> {
    const res = await this.#pool.query<{ run_id: string }>(
      `SELECT run_id FROM review_runs WHERE schedule_id = $1 ORDER BY created_at DESC, run_id DESC LIMIT $2`,
      [scheduleId, limit],
    );
    return res.rows.map((r) => r.run_id);
  }

  /** Whether a run of the schedule is still queued or running (a rerun then waits for the next firing). */
  async hasLiveRun(scheduleId: string): Promise<boolean> {
    const res = await this.#pool.query(
      `SELECT 1 FROM review_runs WHERE schedule_id = $1 AND status IN ('queued', 'running') LIMIT 1`,
      [scheduleId],
    );
    return (res.rowCount ?? 0) > 0;
  }

  /** The schedule's latest completed run: what a rerun compares its documents with. */
  async lastCompletedRun(scheduleId: string): Promise<string | null> {
    const res = await this.#pool.query<{ run_id: string }>(
      `SELECT run_id FROM review_runs WHERE schedule_id = $1 AND status = 'completed'
       ORDER BY created_at DESC, run_id DESC LIMIT 1`,
      [scheduleId],
    );
    return res.rows[0]?.run_id ?? null;
  }
}

// biome-ignore lint/suspicious/noExplicitAny: a pg row
function scheduleOf(r: any): ScheduleRecord {
  return {
    scheduleId: r.schedule_id,
    userId: r.user_id,
    tenant: r.tenant,
    ...(r.name ? { name: r.name } : {}),
    priority: r.priority,
    checklist: r.checklist,
    spec: r.spec,
    cron: r.cron,
    ...(r.tz ? { tz: r.tz } : {}),
    createdBy: r.created_by,
    createdAt: r.created_at,
    ...(r.removed_at ? { removedAt: r.removed_at } : {}),
  };
}
