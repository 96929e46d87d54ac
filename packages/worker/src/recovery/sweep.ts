import type { Logger } from '@agent-fleet/core';
import type { IndexedUser, PendingUsers, RecoveryLock, RecoveryReports } from '@agent-fleet/turns';
import type { RepairResult, TurnRepair } from './repair.ts';

export interface RecoverySweepOptions {
  index: Pick<PendingUsers, 'partitions' | 'scan' | 'forget'>;
  lock: Pick<RecoveryLock, 'take' | 'release'>;
  repair: Pick<TurnRepair, 'repairUser'>;
  /** Where each sweep says how many users it found stuck (the gateway exports it). */
  reports: Pick<RecoveryReports, 'write'>;
  /** How often a sweep runs (RECOVERY_SWEEP_INTERVAL_MS). */
  intervalMs: number;
  /** How long a job may be missing before it is added again (it may still be on its way). */
  graceMs: number;
  logger: Logger;
  /** Users repaired at once. */
  concurrency?: number;
  /** Other upkeep one worker at a time does, after each pass under the same lock (the fair queue's base). */
  upkeep?: () => Promise<void>;
}

/** What one sweep did: how many users it looked at, and how many of each repair. */
export type SweepReport = Record<RepairResult['kind'] | 'users' | 'errors', number>;

/**
 * Users a sweep found stuck: their next turn was left behind (nobody ran it, so the sweep had to
 * add, promote, retry, cancel or fail it) or could not be repaired. A healthy fleet has a few after
 * a crash and none the sweep after; users found stuck sweep after sweep mean repairs do not work.
 */
export function stuckUsers(r: SweepReport): number {
  return r.add + r.promote + r.retry + r.cancel + r.fail + r.errors;
}

/**
 * Resumes users whose turns were left behind, without waiting for their next message. Every
 * `intervalMs`, and soon after a dependency comes back (`soon`), one worker at a time (a Redis lock)
 * goes through the pending-users index of every partition, repairs each user whose next turn
 * nobody runs (one `TurnRepair`), and forgets the users with nothing pending. A whole stuck chain
 * moves at once: every repaired head runs, and each finished turn wakes the next. A sweep that runs
 * out of its lock's time stops and the next one goes on from where it stopped.
 */
export class RecoverySweep {
  readonly #o: RecoverySweepOptions;
  readonly #lockMs: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #closed = false;
  /** Where the last sweep stopped when it ran out of time. */
  #resume = { partition: 0, cursor: '0' };

  constructor(opts: RecoverySweepOptions) {
    this.#o = opts;
    this.#lockMs = Math.max(30_000, 3 * opts.intervalMs);
  }

  /** Sweep now, then every `intervalMs`. */
  start(): void {
    this.#timer = setInterval(() => this.soon(), this.#o.intervalMs);
    this.soon();
  }

  /** Sweep as soon as possible: now, or right after the sweep in progress. */
  soon(): void {
    if (this.#closed) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.sweepOnce()
      .then((report) => this.#log(report))
      .catch((err: unknown) => this.#o.logger.warn({ err: (err as Error).message }, 'recovery sweep failed'))
      .finally(() => {
        this.#running = undefined;
        if (this.#again) {
          this.#again = false;
          this.soon();
        }
      });
  }

  /** One pass over every partition's index, unless another process holds the lock (then null). */
  async sweepOnce(): Promise<SweepReport | null> {
    const token = await this.#o.lock.take(this.#lockMs);
    if (!token) return null;
    const report = emptyReport();
    const deadline = Date.now() + this.#lockMs / 2;
    try {
      await this.#pass(report, deadline);
      await this.#o.reports
        .write({ at: Date.now(), users: report.users, stuck: stuckUsers(report) }, this.#lockMs * 2)
        .catch((err: unknown) =>
          this.#o.logger.debug({ err: (err as Error).message }, 'could not write the sweep report'),
        );
      await this.#o
        .upkeep?.()
        .catch((err: unknown) =>
          this.#o.logger.warn({ err: (err as Error).message }, 'recovery upkeep failed'),
        );
    } finally {
      await this.#o.lock.release(token).catch(() => {});
    }
    return report;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#running;
  }

  async #pass(report: SweepReport, deadline: number): Promise<void> {
    const { index } = this.#o;
    const start = this.#resume;
    this.#resume = { partition: 0, cursor: '0' };
    for (let p = start.partition; p < index.partitions; p++) {
      let cursor = p === start.partition ? start.cursor : '0';
      do {
        if (Date.now() > deadline || this.#closed) {
          this.#resume = { partition: p, cursor };
          return;
        }
        const page = await index.scan(p, cursor);
        cursor = page.cursor;
        await forEachLimit(page.users, this.#o.concurrency ?? 16, (u) => this.#repair(p, u, report));
      } while (cursor !== '0');
    }
  }

  async #repair(partition: number, user: IndexedUser, report: SweepReport): Promise<void> {
    report.users++;
    try {
      const result = await this.#o.repair.repairUser(user.userId, this.#o.graceMs);
      report[result.kind]++;
      if (result.kind === 'idle') await this.#o.index.forget(partition, user);
    } catch (err) {
      report.errors++;
      this.#o.logger.warn({ err: (err as Error).message, userId: user.userId }, 'could not repair a user');
    }
  }

  #log(report: SweepReport | null): void {
    if (!report) return;
    const { users, idle, running, none, ...acted } = report;
    if (Object.values(acted).some((n) => n > 0))
      this.#o.logger.info({ users, ...acted }, 'recovery sweep resumed turns left behind');
  }
}

function emptyReport(): SweepReport {
  return {
    users: 0,
    idle: 0,
    running: 0,
    none: 0,
    add: 0,
    promote: 0,
    retry: 0,
    cancel: 0,
    fail: 0,
    errors: 0,
  };
}

async function forEachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}
