import type { TurnRecord } from '@agent-fleet/turns';
import type { Problem } from './check.ts';
import type { FleetView, JobState, TranscriptRow, UserState } from './inspect.ts';
import type { Ledger, LedgerEntry } from './ledger.ts';

/** What is known of a turn that broke the ledger, so the failure explains itself. */
export interface Diagnosis {
  problem: Problem;
  /** How the message went for the client, and the status it last saw while the run went on. */
  client?: Pick<LedgerEntry, 'channel' | 'sentAt' | 'acceptedAt' | 'requests' | 'lostAnswer' | 'status'>;
  /** The user's transcript rows as `seq:status`, in seq order. */
  transcript: string[];
  record?: TurnRecord;
  row?: TranscriptRow;
  gate?: { seq: number; done: number; lease: string | null; leaseTtlMs: number; pendingSeqs: number[] };
  job?: JobState;
}

/** Each problem with what the client saw, the turn's record and row, the user's gate and the job. */
export function diagnose(
  problems: readonly Problem[],
  view: FleetView,
  jobs: ReadonlyMap<string, JobState>,
  ledger: Ledger,
): Diagnosis[] {
  const rows = new Map(view.rows.map((r) => [r.turnId, r]));
  return problems.map((problem) => {
    const id = problem.turnId;
    const entry = ledger.byUser(problem.userId).find((e) => e.id === problem.messageId);
    const record = id ? view.records.get(id) : undefined;
    const row = id ? rows.get(id) : undefined;
    const job = id ? jobs.get(id) : undefined;
    const user = view.users.get(problem.userId);
    return {
      problem,
      ...(entry ? { client: clientView(entry) } : {}),
      transcript: view.rows.filter((r) => r.userId === problem.userId).map((r) => `${r.seq}:${r.status}`),
      ...(record ? { record } : {}),
      ...(row ? { row } : {}),
      ...(user ? { gate: gateView(user) } : {}),
      ...(job ? { job } : {}),
    };
  });
}

/** The first `max` diagnoses, two lines each: the problem, then every fact known about it. */
export function formatDiagnoses(diagnoses: readonly Diagnosis[], max: number): string[] {
  if (diagnoses.length === 0) return [];
  const lines = ['', `problems (${Math.min(max, diagnoses.length)} of ${diagnoses.length}):`];
  for (const d of diagnoses.slice(0, max)) {
    const p = d.problem;
    const where = `${p.userId}${p.seq === undefined ? '' : ` seq ${p.seq}`}${p.turnId ? ` ${p.turnId}` : ''}`;
    lines.push(`  ${p.kind} ${where}: ${p.detail}`);
    lines.push(`      ${facts(d).join(' | ')}`);
  }
  return lines;
}

function facts(d: Diagnosis): string[] {
  const { client: c, record, row, gate, job } = d;
  const cut = (s: string) => JSON.stringify(s.slice(0, 80));
  return [
    c
      ? `sent via ${c.channel}, ${c.requests} requests${c.lostAnswer ? ` (first answer lost: ${c.lostAnswer})` : ''}, last seen ${c.status ?? 'never'}`
      : '',
    record
      ? `record ${record.status}, ${record.attempts} attempts${record.error ? `, error ${cut(record.error)}` : ''}`
      : 'no Redis record',
    row ? `postgres ${row.status}${row.error ? ` (${cut(row.error)})` : ''}` : 'no transcript row',
    gate
      ? `gate seq ${gate.seq} done ${gate.done} lease ${gate.lease ? `held (${gate.leaseTtlMs} ms left)` : 'free'} pending [${gate.pendingSeqs.join(',')}]`
      : '',
    `transcript [${d.transcript.length > 8 ? '… ' : ''}${d.transcript.slice(-8).join(' ')}]`,
    job
      ? `job ${job.state}, ${job.attemptsMade} attempts${job.failedReason ? `: ${cut(job.failedReason)}` : ''}`
      : '',
  ].filter(Boolean);
}

function clientView(e: LedgerEntry): NonNullable<Diagnosis['client']> {
  return {
    channel: e.channel,
    sentAt: e.sentAt,
    requests: e.requests,
    ...(e.acceptedAt === undefined ? {} : { acceptedAt: e.acceptedAt }),
    ...(e.lostAnswer === undefined ? {} : { lostAnswer: e.lostAnswer }),
    ...(e.status === undefined ? {} : { status: e.status }),
  };
}

function gateView(user: UserState): NonNullable<Diagnosis['gate']> {
  return {
    seq: user.seq,
    done: user.done,
    lease: user.lease,
    leaseTtlMs: user.leaseTtlMs,
    pendingSeqs: user.pending.map((p) => p.seq),
  };
}
