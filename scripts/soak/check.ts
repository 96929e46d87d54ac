import { isFinalStatus } from '@agent-fleet/core';
import type { TurnRecord } from '@agent-fleet/turns';
import { percentile } from '../bench/stack.ts';
import type { FleetView, TranscriptRow, UserState } from './inspect.ts';
import type { LedgerEntry } from './ledger.ts';

/**
 * What breaks the ledger. `lost`, `duplicated`, `reordered` and `stuck` are the guarantees;
 * `inconsistent` (a turn's Redis record, transcript row and answer disagree), `unresolved` (a
 * message the fleet never answered definitely, even on retries) and `refused-but-ran` (a 429/503
 * whose message was accepted anyway) are reported beside them and fail the run too.
 */
export const PROBLEM_KINDS = [
  'lost',
  'duplicated',
  'reordered',
  'stuck',
  'inconsistent',
  'unresolved',
  'refused-but-ran',
] as const;
export type ProblemKind = (typeof PROBLEM_KINDS)[number];

/** One broken promise, with what the client and the fleet know of it. */
export interface Problem {
  kind: ProblemKind;
  userId: string;
  messageId?: string;
  turnId?: string;
  seq?: number;
  detail: string;
}

export interface Verdict {
  sent: number;
  accepted: number;
  /** Accepted messages whose first answer was lost, resolved by retrying their Idempotency-Key. */
  acceptedOnRetry: number;
  /** What the first request of a message got instead of a trustworthy answer (`http 500`, `ECONNRESET`). */
  lostAnswers: Record<string, number>;
  /** Users with at least one stuck turn. */
  stuckUsers: number;
  /** Refusals by reason (`http 503`, `http 429`, `ECONNREFUSED`). */
  refused: Record<string, number>;
  answered: number;
  /** Turns that ended without an answer, by reason (the error with ids and numbers masked). */
  failed: Record<string, number>;
  counts: Record<ProblemKind, number>;
  /** Accepted -> completed (the turn's enqueuedAt to completedAt), answered turns only. */
  latencyMs: { p50: number; p95: number; p99: number };
  problems: Problem[];
  ok: boolean;
}

/**
 * The ledger check, from the client's side: every message the client was told was accepted must
 * have ended exactly once (answered, or failed with a reason) as the turn and seq it was given, in
 * the order the user sent it; the transcript, the turn records and the hot history must agree with
 * that and hold nothing else; and no user may have a turn left unfinished. An answer is checked
 * too: the simulator echoes the message and the number of messages in its prompt, which must be
 * the system prompt, two per earlier answered turn of the user, and this message.
 */
export function checkLedger(entries: readonly LedgerEntry[], view: FleetView): Verdict {
  const problems: Problem[] = [];
  const add = (p: Problem) => problems.push(p);
  const byText = new Map(entries.map((e) => [e.text, e]));
  const rowsByTurn = new Map(view.rows.map((r) => [r.turnId, r]));
  const rowsByUser = groupBy(view.rows, (r) => r.userId);
  const accepted = entries.filter((e) => e.state === 'accepted');
  const answered: number[] = [];
  const failed: Record<string, number> = {};

  checkRows(view.rows, entries, add);
  for (const [userId, mine] of groupBy(entries, (e) => e.userId)) checkSendOrder(userId, mine, add);
  for (const e of accepted) {
    const outcome = checkTurn(e, rowsByTurn.get(e.turnId!), view, rowsByUser.get(e.userId) ?? [], add);
    if (outcome?.status === 'completed') answered.push(outcome.latencyMs);
    else if (outcome) failed[outcome.reason] = (failed[outcome.reason] ?? 0) + 1;
  }
  for (const user of view.users.values()) {
    checkGate(user, entries, byText, problems, add);
    checkHistory(user, rowsByUser.get(user.userId) ?? [], add);
  }
  for (const rows of rowsByUser.values()) checkTranscriptOrder(rows, add);
  for (const e of entries.filter((x) => x.state === 'unresolved')) {
    add({
      kind: 'unresolved',
      userId: e.userId,
      messageId: e.id,
      detail: `no definite answer after ${e.requests} requests (last: ${e.reason})`,
    });
  }

  const counts = Object.fromEntries(PROBLEM_KINDS.map((k) => [k, 0])) as Record<ProblemKind, number>;
  for (const p of problems) counts[p.kind]++;
  return {
    sent: entries.length,
    accepted: accepted.length,
    acceptedOnRetry: accepted.filter((e) => e.resolvedByRetry).length,
    lostAnswers: tally(entries.flatMap((e) => (e.lostAnswer ? [e.lostAnswer] : []))),
    stuckUsers: new Set(problems.filter((p) => p.kind === 'stuck').map((p) => p.userId)).size,
    refused: tally(entries.filter((e) => e.state === 'refused').map((e) => e.reason ?? 'unknown')),
    answered: answered.length,
    failed,
    counts,
    latencyMs: {
      p50: percentile(answered, 0.5),
      p95: percentile(answered, 0.95),
      p99: percentile(answered, 0.99),
    },
    problems,
    ok: problems.length === 0,
  };
}

/** The text the simulator answers turn `text` with when its prompt held `messages` messages. */
export function expectedReply(text: string, messages: number): string {
  return `Echo [n=${messages}]: ${text}`;
}

/** A failure reason with turn ids, hosts and numbers masked, so like failures count together. */
export function failureReason(status: string, error: string | null): string {
  if (status !== 'failed') return status;
  const masked = (error ?? '(no error given)').replace(/t_[0-9a-f]{8,}/g, 't_…').replace(/\d+/g, 'N');
  return masked.length > 100 ? `${masked.slice(0, 99)}…` : masked;
}

/**
 * Every transcript row must be the one turn of a message the client was told was accepted; a row
 * of any other turn id is a second run of a message, a run of a refused one, or of nothing sent.
 */
function checkRows(
  rows: readonly TranscriptRow[],
  entries: readonly LedgerEntry[],
  add: (p: Problem) => void,
) {
  const acceptedTurns = new Set(entries.flatMap((e) => (e.state === 'accepted' ? [e.turnId!] : [])));
  const byText = new Map(entries.map((e) => [e.text, e]));
  const seen = new Map<string, TranscriptRow>();
  for (const row of rows) {
    const at = { userId: row.userId, turnId: row.turnId, seq: row.seq };
    const key = `${row.userId} ${row.seq}`;
    const twin = seen.get(key);
    if (twin)
      add({
        kind: 'duplicated',
        ...at,
        detail: `two transcript rows for seq ${row.seq}: ${twin.turnId} and ${row.turnId}`,
      });
    seen.set(key, row);
    if (acceptedTurns.has(row.turnId)) continue;
    const entry = row.userText === null ? undefined : byText.get(row.userText);
    if (!entry) {
      add({
        kind: 'duplicated',
        ...at,
        detail: `a transcript row (${row.status}) for no message the client sent: ${JSON.stringify(row.userText)}`,
      });
    } else if (entry.state === 'refused') {
      add({
        kind: 'refused-but-ran',
        ...at,
        messageId: entry.id,
        detail: `refused with ${entry.reason}, yet recorded as ${row.status}`,
      });
    } else if (entry.state === 'accepted') {
      add({
        kind: 'duplicated',
        ...at,
        messageId: entry.id,
        detail: `accepted as ${entry.turnId} (seq ${entry.seq}) but also ran as ${row.turnId} (seq ${row.seq})`,
      });
    }
  }
}

/** A user's accepted messages must have seqs in the order they were sent. */
function checkSendOrder(userId: string, mine: readonly LedgerEntry[], add: (p: Problem) => void) {
  let previous: LedgerEntry | undefined;
  for (const e of mine) {
    if (e.state !== 'accepted') continue;
    if (previous && e.seq! <= previous.seq!) {
      add({
        kind: 'reordered',
        userId,
        messageId: e.id,
        turnId: e.turnId!,
        seq: e.seq!,
        detail: `sent after ${previous.id} (seq ${previous.seq}) but accepted as seq ${e.seq}`,
      });
    }
    previous = e;
  }
}

type TurnOutcome = { status: 'completed'; latencyMs: number } | { status: 'failed'; reason: string };

/** One accepted message: its row, its record and its answer agree, or it is stuck or lost. */
function checkTurn(
  e: LedgerEntry,
  row: TranscriptRow | undefined,
  view: FleetView,
  userRows: readonly TranscriptRow[],
  add: (p: Problem) => void,
): TurnOutcome | undefined {
  const at = { userId: e.userId, messageId: e.id, turnId: e.turnId!, seq: e.seq! };
  const record = view.records.get(e.turnId!);
  if (!row) {
    const pending = view.users.get(e.userId)?.pending.some((p) => p.turnId === e.turnId) ?? false;
    add(unrecorded(at, record, pending));
    return undefined;
  }
  for (const detail of disagreements(e, row, record)) add({ kind: 'inconsistent', ...at, detail });
  if (row.status !== 'completed') return { status: 'failed', reason: failureReason(row.status, row.error) };
  const earlier = userRows.filter((r) => r.seq < row.seq && r.status === 'completed').length;
  const expected = expectedReply(e.text, 2 + 2 * earlier);
  if (row.reply !== expected) {
    const said = JSON.stringify(row.reply?.slice(0, 60));
    add({
      kind: 'inconsistent',
      ...at,
      detail: `answered ${said}, expected ${JSON.stringify(expected.slice(0, 60))} (${earlier} earlier answered turns)`,
    });
  }
  return { status: 'completed', latencyMs: row.completedAt - row.enqueuedAt };
}

/** An accepted turn with no transcript row: final in Redis only, still on its way (stuck), or forgotten (lost). */
function unrecorded(
  at: Omit<Problem, 'kind' | 'detail'>,
  record: TurnRecord | undefined,
  pending: boolean,
): Problem {
  if (record && isFinalStatus(record.status)) {
    return {
      kind: 'inconsistent',
      ...at,
      detail: `Redis says ${record.status} but the transcript has no row`,
    };
  }
  if (record || pending) {
    return {
      kind: 'stuck',
      ...at,
      detail: `still ${record?.status ?? 'pending (no record)'} after the drain`,
    };
  }
  return { kind: 'lost', ...at, detail: 'accepted, but neither Redis nor Postgres knows the turn' };
}

/** Where the client's message, its transcript row and its Redis record tell different stories. */
function disagreements(e: LedgerEntry, row: TranscriptRow, record: TurnRecord | undefined): string[] {
  const out: string[] = [];
  if (row.seq !== e.seq) out.push(`accepted as seq ${e.seq}, recorded as seq ${row.seq}`);
  if (row.userText !== e.text) out.push(`its transcript row holds ${JSON.stringify(row.userText)}`);
  if (!record) out.push(`recorded as ${row.status} in Postgres, but Redis has no record of it`);
  else if (record.status !== row.status || record.seq !== row.seq) {
    out.push(`Redis says ${record.status} (seq ${record.seq}), Postgres ${row.status} (seq ${row.seq})`);
  }
  return out;
}

/** After the drain every seq handed out must be finished, and no refused message may wait in `pending`. */
function checkGate(
  user: UserState,
  entries: readonly LedgerEntry[],
  byText: Map<string, LedgerEntry>,
  problems: readonly Problem[],
  add: (p: Problem) => void,
) {
  const counted = new Set(
    problems.filter((p) => p.userId === user.userId && p.seq !== undefined).map((p) => `${p.kind} ${p.seq}`),
  );
  for (const job of user.pending) {
    const entry = byText.get(job.text);
    if (entry?.state === 'refused' && !counted.has(`refused-but-ran ${job.seq}`)) {
      add({
        kind: 'refused-but-ran',
        userId: user.userId,
        messageId: entry.id,
        turnId: job.turnId,
        seq: job.seq,
        detail: `refused with ${entry.reason}, yet accepted as seq ${job.seq} (still pending)`,
      });
    }
  }
  const ledgerSeqs = new Set(
    entries.filter((e) => e.userId === user.userId && e.seq !== undefined).map((e) => e.seq!),
  );
  for (let seq = user.done + 1; seq <= user.seq; seq++) {
    if (ledgerSeqs.has(seq) && (counted.has(`stuck ${seq}`) || counted.has(`lost ${seq}`))) continue;
    const job = user.pending.find((p) => p.seq === seq);
    add({
      kind: 'stuck',
      userId: user.userId,
      seq,
      ...(job ? { turnId: job.turnId } : {}),
      detail: `seq ${seq} was handed out but is not finished (done = ${user.done}, ${job ? `pending: ${JSON.stringify(job.text)}` : 'no pending payload'})`,
    });
  }
}

/** The hot history holds each answered turn once, in seq order. */
function checkHistory(user: UserState, rows: readonly TranscriptRow[], add: (p: Problem) => void) {
  const perTurn = tally(user.history.filter((m) => m.role === 'user').map((m) => m.turnId));
  for (const [turnId, n] of Object.entries(perTurn)) {
    if (n > 1)
      add({
        kind: 'duplicated',
        userId: user.userId,
        turnId,
        detail: `the Redis history holds turn ${turnId} ${n} times`,
      });
  }
  const seqs = user.history.map((m) => m.seq);
  const back = seqs.findIndex((s, i) => i > 0 && s < seqs[i - 1]!);
  if (back > 0)
    add({
      kind: 'reordered',
      userId: user.userId,
      seq: seqs[back]!,
      detail: `the Redis history has seq ${seqs[back]} after seq ${seqs[back - 1]}`,
    });
  const inHistory = new Set(user.history.map((m) => m.seq));
  for (const row of rows.filter((r) => r.status === 'completed' && !inHistory.has(r.seq))) {
    add({
      kind: 'inconsistent',
      userId: user.userId,
      turnId: row.turnId,
      seq: row.seq,
      detail: 'answered in Postgres but missing from the Redis history',
    });
  }
}

/** A user's turn s+1 never started before turn s finished (the worker's clocks, one machine). */
function checkTranscriptOrder(rows: readonly TranscriptRow[], add: (p: Problem) => void) {
  for (let i = 1; i < rows.length; i++) {
    const before = rows[i - 1]!;
    const row = rows[i]!;
    if (row.seq === before.seq || row.startedAt === null || row.startedAt >= before.completedAt) continue;
    add({
      kind: 'reordered',
      userId: row.userId,
      turnId: row.turnId,
      seq: row.seq,
      detail: `seq ${row.seq} started ${before.completedAt - row.startedAt} ms before seq ${before.seq} finished`,
    });
  }
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k) ?? [];
    group.push(item);
    groups.set(k, group);
  }
  return groups;
}

function tally(keys: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of keys) out[k] = (out[k] ?? 0) + 1;
  return out;
}
