import { billableTokens, type Logger, sumUsage, type TurnJob, type UsageLine } from '@agent-fleet/core';
import type { Transcript, TurnTranscript, UsageLedger } from '@agent-fleet/state';
import {
  type CommitResult,
  decodePending,
  type TurnEvent,
  type TurnEvents,
  type TurnGate,
  type TurnRecords,
} from '@agent-fleet/turns';
import type { WorkerMetrics } from '../metrics.ts';
import type { HeadJobs } from '../recovery/head-jobs.ts';
import { type StageTimer, UNTIMED } from '../stage-timer.ts';
import { classifyError } from './errors.ts';
import {
  type FinalSettlement,
  type Settlement,
  settlementRecords,
  storableFallbacks,
  type TranscriptMode,
  type TurnDelivery,
} from './settlement.ts';

/** The collaborators that finishing turns needs, and only those. */
export interface FinisherPorts {
  gate: Pick<TurnGate, 'commit' | 'release'>;
  transcript: Pick<Transcript, 'record'>;
  events: Pick<TurnEvents, 'publish'>;
  /** Wakes the user's next turn once this one is committed. */
  heads: Pick<HeadJobs, 'wake'>;
  /** The turn's usage so far as its hot record holds it, and where its timings go on that record. */
  records: Pick<TurnRecords, 'usage' | 'setTimings'>;
  /** The usage ledger (a summary's usage is added to its turn's rows after the turn was recorded). */
  ledger: Pick<UsageLedger, 'recordTurn'>;
  /** The tenant a turn counts under. */
  tenants: { of(job: TurnJob): Promise<string> };
  /** Charges a finished turn's real usage to its tenant in the fair queue. */
  fairness: { correct(job: TurnJob, tokens: number): Promise<void> };
  metrics: Pick<WorkerMetrics, 'turns' | 'turnSeconds' | 'unrecorded' | 'failures'>;
  logger: Logger;
  /** Fault injection (FAULT_CRASH_AFTER_RECORD): called between the transcript rows and the commit. */
  afterRecord?: (job: TurnJob) => void;
}

/**
 * How turns end: a settlement is recorded (transcript rows first, with the turn's usage as its
 * record holds it, so a committed turn is durable and its cost too), committed in the gate in seq
 * order, the user's next turn is woken, and the tenant is charged the turn's real usage in the fair
 * queue. Each write is idempotent on turnId/seq, so finishing again after a crash changes nothing.
 * A turn that ended without an answer always ends: when Postgres refuses its row, a storable one
 * is written instead (see `storableFallbacks`), and when it refuses even that, the turn is
 * committed without a row.
 */
export class TurnFinisher {
  readonly #ports: FinisherPorts;

  constructor(ports: FinisherPorts) {
    this.#ports = ports;
  }

  /**
   * Returns the last commit's result (null for a retry, which commits nothing). `stages` times the
   * transcript rows (`record`) and the gate's commit with the wake-up of the next turn (`commit`).
   */
  async finish(
    turn: TurnDelivery,
    s: Settlement,
    opts: { transcript?: TranscriptMode; stages?: StageTimer } = {},
  ): Promise<CommitResult | null> {
    const p = this.#ports;
    const stages = opts.stages ?? UNTIMED;
    if (s.kind === 'retry') {
      await p.gate.release(turn.job.userId, turn.lease).catch(() => {});
      return null;
    }
    const usage = await this.#usage(turn.job);
    const records = settlementRecords(turn, s, Date.now());
    // The turn's own row carries its usage; coalesced turns' rows have none (they made no calls).
    records.transcripts[0] = { ...records.transcripts[0]!, usage };
    await stages.time('record', async (span) => {
      span.setAttribute('db.system.name', 'postgresql');
      if (s.kind === 'completed')
        await Promise.all(records.transcripts.map((row) => p.transcript.record(row)));
      else await this.#recordUnanswered(records.transcripts[0]!, opts.transcript ?? 'required');
    });
    p.afterRecord?.(turn.job);
    const fin = await stages.time('commit', (span) => {
      span.setAttribute('db.system.name', 'redis');
      return this.#commit(records);
    });
    // Issued before the done events on the same connection, so a watcher woken by one finds them.
    const timed = fin.kind === 'finished' ? this.#saveTimings(turn.job, stages) : undefined;
    for (const { turnId, event } of records.done) await this.#announce(turn.job, turnId, event);
    await timed;
    this.#count(turn, s);
    await this.#charge(turn.job, usage.lines);
    return fin;
  }

  /** Commits in seq order, then wakes the user's next turn. */
  async #commit(records: ReturnType<typeof settlementRecords>): Promise<CommitResult> {
    const p = this.#ports;
    let fin: CommitResult = { kind: 'already-finished' };
    for (const c of records.commits) fin = await p.gate.commit(c);
    const last = records.commits.at(-1)!;
    if (fin.kind === 'finished' && fin.nextPayload)
      await p.heads.wake(decodePending(last.seq + 1, fin.nextPayload));
    return fin;
  }

  /**
   * Writes the turn's usage as its record holds it now into the ledger: after a summary it
   * triggered was counted in the record (the ledger's rows only grow, so this is safe at any time).
   */
  async recordUsage(job: TurnJob): Promise<void> {
    const { tenant, lines } = await this.#usage(job);
    await this.#ports.ledger.recordTurn({ turnId: job.turnId, userId: job.userId, tenant, lines });
  }

  async #usage(job: TurnJob): Promise<{ tenant: string; lines: UsageLine[] }> {
    const [tenant, lines] = await Promise.all([
      this.#ports.tenants.of(job),
      this.#ports.records.usage(job.userId, job.turnId),
    ]);
    return { tenant, lines };
  }

  /** The fair queue learns what the turn really cost (best effort: it only shifts later turns). */
  async #charge(job: TurnJob, lines: UsageLine[]): Promise<void> {
    await this.#ports.fairness.correct(job, billableTokens(sumUsage(lines))).catch((err: unknown) => {
      this.#ports.logger.warn(
        { err: (err as Error).message, turnId: job.turnId },
        'could not correct the fair queue',
      );
    });
  }

  /**
   * The row of a turn that ended without an answer, stored as well as Postgres allows: each fallback
   * in turn while Postgres refuses the one before (or, best-effort, whatever the error). When none
   * can be stored the turn is still committed, so the user's next turn runs; the metric and the log
   * say so.
   */
  async #recordUnanswered(row: TurnTranscript, mode: TranscriptMode): Promise<void> {
    const { transcript, logger, metrics } = this.#ports;
    const log = logger.child({ turnId: row.turnId, userId: row.userId, seq: row.seq });
    let last: unknown;
    for (const candidate of storableFallbacks(row)) {
      try {
        await transcript.record(candidate);
        if (candidate !== row) log.warn({ err: errorMessage(last) }, 'stored a storable form of the turn');
        return;
      } catch (err) {
        if (mode === 'required' && classifyError(err).kind !== 'permanent') throw err;
        last = err;
      }
    }
    metrics.unrecorded.inc();
    log.error(
      { err: errorMessage(last) },
      'the transcript took no row of this turn; committing it without one',
    );
  }

  /** The turn's timings on its record; they explain the turn, so losing them must not fail it. */
  async #saveTimings(t: TurnJob, stages: StageTimer): Promise<void> {
    const timings = stages.timings(t.enqueuedAt);
    if (!timings) return;
    await this.#ports.records.setTimings(t.userId, t.turnId, timings).catch((err: unknown) => {
      this.#ports.logger.warn(
        { err: (err as Error).message, turnId: t.turnId, userId: t.userId },
        'could not save the turn timings',
      );
    });
  }

  /** The outcome is committed already: a watcher missing its `done` event still finds it in the record. */
  async #announce(t: TurnJob, turnId: string, event: TurnEvent): Promise<void> {
    await this.#ports.events.publish(t.userId, turnId, event).catch((err: unknown) => {
      this.#ports.logger.warn({ err: (err as Error).message, turnId }, 'could not publish the done event');
    });
  }

  #count(turn: TurnDelivery, s: FinalSettlement): void {
    const { metrics, logger } = this.#ports;
    const t = turn.job;
    const log = logger.child({ turnId: t.turnId, userId: t.userId, seq: t.seq });
    metrics.turns.inc({ outcome: s.kind });
    if (s.kind === 'failed') {
      metrics.failures.inc({ reason: s.cause });
      log.error({ error: s.reason, cause: s.cause }, 'turn failed');
      return;
    }
    if (s.kind === 'completed' && turn.startedAt !== undefined) {
      const ms = Date.now() - turn.startedAt;
      metrics.turnSeconds.observe(ms / 1000);
      log.info(
        { ms, ...(s.coalesced.length > 0 ? { coalesced: s.coalesced.length } : {}) },
        'turn completed',
      );
      return;
    }
    log.info(`turn ${s.kind}`);
  }
}

function errorMessage(err: unknown): string | undefined {
  return err === undefined ? undefined : err instanceof Error ? err.message : String(err);
}
