import { formatDuration } from '@agent-fleet/devstack';
import { PROBLEM_KINDS, type Verdict } from './check.ts';
import { type Diagnosis, formatDiagnoses } from './diagnose.ts';
import type { FaultRecord } from './faults.ts';
import type { TranscriptRow } from './inspect.ts';
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
    ...Object.entries(v.failed)
      .sort((a, b) => b[1] - a[1])
      .map(([reason, n]) => `    ${String(n).padStart(6)}  ${reason}`),
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
    ...formatDiagnoses(report.diagnoses, maxProblems),
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
