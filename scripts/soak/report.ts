import { formatDuration } from '@agent-fleet/devstack';
import type { TurnRecord } from '@agent-fleet/turns';
import { PROBLEM_KINDS, type Problem, type Verdict } from './check.ts';
import type { FaultRecord } from './faults.ts';
import type { FleetView, JobState, TranscriptRow } from './inspect.ts';
import type { SoakOptions } from './options.ts';

/** How one fault went and how long the fleet took to get over it. */
export interface FaultSummary {
  index: number;
  kind: string;
  target?: string;
  /** Seconds from the start of the load to the injection. */
  atS?: number;
  /** From the injection until the killed service was ready again (or the knobs turned back). */
  readyMs?: number;
  /** From the injection until the first turn completed after `readyMs`: the fleet answers again. */
  recoveredMs?: number;
  /** Turns that ended failed between this fault and the next one. */
  failedTurns: number;
  error?: string;
  durability?: FaultRecord['durability'];
}

/** What is known of a turn that broke the ledger, so the failure explains itself. */
export interface Diagnosis {
  problem: Problem;
  record?: TurnRecord;
  row?: TranscriptRow;
  gate?: { seq: number; done: number; lease: string | null; leaseTtlMs: number; pendingSeqs: number[] };
  job?: JobState;
}

export interface SoakReport {
  options: Omit<SoakOptions, 'report'>;
  loadStartedAt: string;
  loadSeconds: number;
  drainSeconds: number;
  /** Ticks on which every user still had a message in flight (the rate was not reached). */
  skippedTicks: number;
  verdict: Verdict;
  faults: FaultSummary[];
  diagnoses: Diagnosis[];
}

/** Recovery figures of each fault, from the completed and failed turns of the transcript. */
export function summarizeFaults(
  records: readonly FaultRecord[],
  rows: readonly TranscriptRow[],
  loadStartedAt: number,
): FaultSummary[] {
  const completions = rows
    .filter((r) => r.status === 'completed')
    .map((r) => r.completedAt)
    .sort((a, b) => a - b);
  const failures = rows.filter((r) => r.status !== 'completed').map((r) => r.completedAt);
  return records.map((record, i) => {
    const { startedAt, endedAt } = record;
    const next = records[i + 1]?.startedAt ?? Number.POSITIVE_INFINITY;
    const firstAfter = endedAt === undefined ? undefined : completions.find((t) => t >= endedAt);
    return {
      index: record.planned.index,
      kind: record.planned.kind,
      ...(record.planned.target ? { target: record.planned.target } : {}),
      ...(startedAt === undefined ? {} : { atS: round1((startedAt - loadStartedAt) / 1000) }),
      ...(startedAt !== undefined && endedAt !== undefined ? { readyMs: endedAt - startedAt } : {}),
      ...(startedAt !== undefined && firstAfter !== undefined ? { recoveredMs: firstAfter - startedAt } : {}),
      failedTurns: startedAt === undefined ? 0 : failures.filter((t) => t >= startedAt && t < next).length,
      ...(record.error ? { error: record.error } : {}),
      ...(record.durability ? { durability: record.durability } : {}),
    };
  });
}

/** Each problem with the turn's record, transcript row, user gate and job. */
export function diagnose(
  problems: readonly Problem[],
  view: FleetView,
  jobs: Map<string, JobState>,
): Diagnosis[] {
  const rows = new Map(view.rows.map((r) => [r.turnId, r]));
  return problems.map((problem) => {
    const user = view.users.get(problem.userId);
    const id = problem.turnId;
    const record = id ? view.records.get(id) : undefined;
    const row = id ? rows.get(id) : undefined;
    const job = id ? jobs.get(id) : undefined;
    return {
      problem,
      ...(record ? { record } : {}),
      ...(row ? { row } : {}),
      ...(user
        ? {
            gate: {
              seq: user.seq,
              done: user.done,
              lease: user.lease,
              leaseTtlMs: user.leaseTtlMs,
              pendingSeqs: user.pending.map((p) => p.seq),
            },
          }
        : {}),
      ...(job ? { job } : {}),
    };
  });
}

/** The report as printed at the end of a run. */
export function formatReport(report: SoakReport, maxProblems = 20): string {
  const v = report.verdict;
  const o = report.options;
  const lines = [
    '',
    `soak: ${o.minutes} min at ${o.rate} msg/s from ${o.users} users (${Math.round(o.users * o.sdkShare)} through the SDK), ${o.workers} workers, seed ${o.seed}${o.outage ? `, killed processes kept down ${o.outage} s` : ''}; drained in ${report.drainSeconds} s`,
    '',
    'ledger (from the client side)',
    row('sent', v.sent, report.skippedTicks ? `${report.skippedTicks} ticks skipped: every user busy` : ''),
    row(
      'accepted',
      v.accepted,
      v.acceptedOnRetry ? `${v.acceptedOnRetry} of them on a retry with their Idempotency-Key` : '',
    ),
    ...(sum(v.lostAnswers) ? [`    answers lost, then retried: ${breakdown(v.lostAnswers)}`] : []),
    row('refused', sum(v.refused), breakdown(v.refused)),
    row('answered', v.answered),
    row('failed', sum(v.failed), ''),
    ...Object.entries(v.failed).map(([reason, n]) => `    ${String(n).padStart(6)}  ${reason}`),
    ...PROBLEM_KINDS.map((kind) =>
      row(
        kind.replaceAll('-', ' '),
        v.counts[kind],
        kind === 'stuck' && v.stuckUsers ? `${v.stuckUsers} users` : '',
      ),
    ),
    '',
    `latency, accepted -> completed (answered turns): p50 ${ms(v.latencyMs.p50)}, p95 ${ms(v.latencyMs.p95)}, p99 ${ms(v.latencyMs.p99)}`,
    '',
    ...formatFaults(report.faults),
    ...formatProblems(report.diagnoses, maxProblems),
    '',
    v.ok
      ? 'PASS: every accepted message answered or failed with a reason, once, in order; no user stuck'
      : `FAIL: ${PROBLEM_KINDS.filter((k) => v.counts[k] > 0)
          .map((k) => `${k} ${v.counts[k]}`)
          .join(', ')}`,
  ];
  return lines.join('\n');
}

function formatFaults(faults: readonly FaultSummary[]): string[] {
  if (faults.length === 0) return ['faults: none'];
  const lines = [
    'faults (from the injection: ready = the service is back or the knobs are off; answering = the first turn completed after that)',
    `  ${'#'.padStart(3)}  ${'at'.padStart(7)}  ${'fault'.padEnd(26)}  ${'ready'.padStart(8)}  ${'answering'.padStart(9)}  failed turns`,
  ];
  for (const f of faults) {
    const what = `${f.kind}${f.target && f.target !== f.kind ? ` (${f.target})` : ''}`;
    lines.push(
      `  ${String(f.index).padStart(3)}  ${(f.atS === undefined ? '-' : `${f.atS} s`).padStart(7)}  ${what.padEnd(26)}  ${opt(f.readyMs).padStart(8)}  ${opt(f.recoveredMs).padStart(9)}  ${f.failedTurns}${f.error ? `  (${f.error})` : ''}`,
    );
  }
  const kills = faults.filter((f) => f.durability);
  if (kills.length > 0) {
    const parts = kills.map((f) => {
      const d = f.durability!;
      return `#${f.index}: ${d.acceptedBefore - d.unknownAfter.length}/${d.acceptedBefore} known (${d.unfinishedAtKill} unfinished at the kill, ${d.acceptedLastSecond} accepted in its last second)`;
    });
    lines.push(
      `  redis-server SIGKILLs, turns with a 202 before the kill that Redis knew after its restart: ${parts.join('; ')}`,
    );
  }
  return lines;
}

function formatProblems(diagnoses: readonly Diagnosis[], max: number): string[] {
  if (diagnoses.length === 0) return [];
  const lines = ['', `problems (${Math.min(max, diagnoses.length)} of ${diagnoses.length}):`];
  for (const d of diagnoses.slice(0, max)) {
    const p = d.problem;
    lines.push(
      `  ${p.kind} ${p.userId}${p.seq === undefined ? '' : ` seq ${p.seq}`}${p.turnId ? ` ${p.turnId}` : ''}: ${p.detail}`,
    );
    const facts = [
      d.record
        ? `record ${d.record.status}, ${d.record.attempts} attempts${d.record.error ? `, error ${JSON.stringify(d.record.error.slice(0, 80))}` : ''}`
        : 'no Redis record',
      d.row
        ? `postgres ${d.row.status}${d.row.error ? ` (${d.row.error.slice(0, 80)})` : ''}`
        : 'no transcript row',
      d.gate
        ? `gate seq ${d.gate.seq} done ${d.gate.done} lease ${d.gate.lease ? `held (${d.gate.leaseTtlMs} ms left)` : 'free'} pending [${d.gate.pendingSeqs.join(',')}]`
        : '',
      d.job
        ? `job ${d.job.state}, ${d.job.attemptsMade} attempts${d.job.failedReason ? `: ${d.job.failedReason.slice(0, 80)}` : ''}`
        : '',
    ].filter(Boolean);
    lines.push(`      ${facts.join(' | ')}`);
  }
  return lines;
}

const row = (label: string, n: number, note = '') =>
  `  ${label.padEnd(16)}${String(n).padStart(7)}${note ? `  ${note}` : ''}`;
const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
const breakdown = (counts: Record<string, number>) =>
  Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k}: ${n}`)
    .join(', ');
const ms = (v: number) => (Number.isNaN(v) ? '-' : formatDuration(v));
const opt = (v: number | undefined) => (v === undefined ? '-' : formatDuration(v));
const round1 = (v: number) => Math.round(v * 10) / 10;
