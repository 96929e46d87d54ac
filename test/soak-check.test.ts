import type { TurnRecord } from '@agent-fleet/turns';
import { describe, expect, it } from 'vitest';
import { checkLedger, expectedReply, failureReason } from '../scripts/soak/check.ts';
import type { FleetView, TranscriptRow, UserState } from '../scripts/soak/inspect.ts';
import { Ledger, type LedgerEntry } from '../scripts/soak/ledger.ts';
import { FAULT_KINDS, planFaults, QUIET_MS } from '../scripts/soak/schedule.ts';

/**
 * The soak's verdict must catch every way the fleet can break the ledger, and only those: each
 * case below builds what the client saw and what Redis and Postgres hold, and checks the one
 * problem it should find. Then the fault schedule: deterministic, spaced, covering every kind.
 */
describe('the soak ledger check', () => {
  const T0 = 1_700_000_000_000;

  /** A user's n messages, all accepted as seq 1..n and answered in order (a clean run). */
  function cleanUser(ledger: Ledger, view: FleetView, userId: string, n: number): LedgerEntry[] {
    const entries: LedgerEntry[] = [];
    const user: UserState = {
      userId,
      seq: n,
      done: n,
      lease: null,
      leaseTtlMs: -2,
      pending: [],
      history: [],
    };
    for (let seq = 1; seq <= n; seq++) {
      const e = send(ledger, userId, seq);
      const turnId = e.turnId!;
      const reply = expectedReply(e.text, 2 * seq);
      view.rows.push(row(e, seq, 'completed', reply));
      view.records.set(turnId, record(e, seq, 'completed'));
      user.history.push(
        { role: 'user', content: e.text, turnId, seq },
        { role: 'assistant', content: reply, turnId, seq },
      );
      entries.push(e);
    }
    view.users.set(userId, user);
    return entries;
  }

  const send = (ledger: Ledger, userId: string, seq: number) => {
    const e = ledger.open(userId, 'http', 'test');
    e.requests = 1;
    ledger.accept(e, {
      kind: 'accepted',
      turnId: `t_${userId.replace(/\W/g, '')}${seq}`,
      seq,
      replayed: false,
    });
    return e;
  };
  const row = (e: LedgerEntry, seq: number, status: string, reply: string | null): TranscriptRow => ({
    turnId: e.turnId!,
    userId: e.userId,
    seq,
    status,
    error: status === 'failed' ? 'boom 42' : null,
    enqueuedAt: T0 + seq * 1000,
    startedAt: T0 + seq * 1000 + 10,
    completedAt: T0 + seq * 1000 + 100,
    userText: e.text,
    reply,
  });
  const record = (e: LedgerEntry, seq: number, status: TurnRecord['status']): TurnRecord => ({
    turnId: e.turnId!,
    userId: e.userId,
    seq,
    status,
    enqueuedAt: T0 + seq * 1000,
    attempts: 1,
  });
  const emptyView = (): FleetView => ({ rows: [], records: new Map(), users: new Map() });

  it('passes a clean run and measures its latency', () => {
    const ledger = new Ledger();
    const view = emptyView();
    cleanUser(ledger, view, 'a', 3);
    cleanUser(ledger, view, 'b', 2);
    const v = checkLedger(ledger.entries, view);
    expect(v.problems).toEqual([]);
    expect(v).toMatchObject({ ok: true, sent: 5, accepted: 5, answered: 5 });
    expect(v.latencyMs.p50).toBe(100);
  });

  it('counts a turn failed with its reason, and a refusal, without a problem', () => {
    const ledger = new Ledger();
    const view = emptyView();
    const [, second] = cleanUser(ledger, view, 'a', 2);
    view.rows[1] = row(second!, 2, 'failed', null);
    view.records.set(second!.turnId!, record(second!, 2, 'failed'));
    view.users.get('a')!.history.splice(2);
    const refused = ledger.open('a', 'http', 'test');
    refused.state = 'refused';
    refused.reason = 'http 503';
    const v = checkLedger(ledger.entries, view);
    expect(v.problems).toEqual([]);
    expect(v.failed).toEqual({ 'boom N': 1 });
    expect(v.refused).toEqual({ 'http 503': 1 });
  });

  it('finds a lost turn: accepted, but neither Redis nor Postgres knows it', () => {
    const ledger = new Ledger();
    const view = emptyView();
    cleanUser(ledger, view, 'a', 1);
    send(ledger, 'a', 2);
    const v = checkLedger(ledger.entries, view);
    expect(v.counts.lost).toBe(1);
    expect(v.problems[0]).toMatchObject({ kind: 'lost', userId: 'a', seq: 2 });
  });

  it('finds a stuck user: a turn still running after the drain holds back the next', () => {
    const ledger = new Ledger();
    const view = emptyView();
    cleanUser(ledger, view, 'a', 1);
    const running = send(ledger, 'a', 2);
    view.records.set(running.turnId!, record(running, 2, 'running'));
    const user = view.users.get('a')!;
    user.seq = 3;
    user.pending = [3].map((seq) => ({
      v: 1,
      kind: 'chat',
      userId: 'a',
      seq,
      turnId: 't_x3',
      text: 'x',
      enqueuedAt: T0,
    }));
    const v = checkLedger(ledger.entries, view);
    expect(v.counts.stuck).toBe(2);
    expect(v.stuckUsers).toBe(1);
    expect(v.problems.map((p) => p.detail)).toEqual([
      'still running after the drain',
      'seq 3 was handed out but is not finished (done = 1, pending: "x")',
    ]);
  });

  it('finds a message that ran twice, in the transcript or in the hot history', () => {
    const ledger = new Ledger();
    const view = emptyView();
    const [first] = cleanUser(ledger, view, 'a', 2);
    view.rows.push({ ...row(first!, 3, 'completed', 'again'), turnId: 't_other' });
    view.users.get('a')!.history.push(view.users.get('a')!.history[0]!);
    const v = checkLedger(ledger.entries, view);
    expect(v.counts.duplicated).toBe(2);
    expect(v.problems.map((p) => p.detail)).toContain(
      `accepted as ${first!.turnId} (seq 1) but also ran as t_other (seq 3)`,
    );
  });

  it('finds reordering: a later message given an earlier seq, or a turn started before its predecessor ended', () => {
    const ledger = new Ledger();
    const view = emptyView();
    const [first, second] = cleanUser(ledger, view, 'a', 2);
    second!.seq = 1;
    first!.seq = 2;
    view.rows[1]!.startedAt = view.rows[0]!.completedAt - 50;
    const v = checkLedger(ledger.entries, view);
    expect(v.problems.filter((p) => p.kind === 'reordered').map((p) => p.detail)).toEqual([
      'sent after a#1 (seq 2) but accepted as seq 1',
      'seq 2 started 50 ms before seq 1 finished',
    ]);
  });

  it('finds an answer given with the wrong history, and a record that disagrees with the transcript', () => {
    const ledger = new Ledger();
    const view = emptyView();
    const [, second] = cleanUser(ledger, view, 'a', 2);
    view.rows[1]!.reply = expectedReply(second!.text, 2);
    view.records.set(second!.turnId!, record(second!, 2, 'failed'));
    const v = checkLedger(ledger.entries, view);
    expect(v.counts.inconsistent).toBe(2);
    expect(v.ok).toBe(false);
  });

  it('finds a refused message that ran anyway, and one that never got a definite answer', () => {
    const ledger = new Ledger();
    const view = emptyView();
    cleanUser(ledger, view, 'a', 1);
    const refused = ledger.open('a', 'http', 'test');
    refused.state = 'refused';
    refused.reason = 'http 503';
    view.rows.push({ ...row({ ...refused, turnId: 't_ghost' } as LedgerEntry, 2, 'completed', 'x') });
    const unresolved = ledger.open('b', 'sdk', 'test');
    unresolved.state = 'unresolved';
    unresolved.requests = 9;
    unresolved.reason = 'ECONNRESET';
    const v = checkLedger(ledger.entries, view);
    expect(v.counts['refused-but-ran']).toBe(1);
    expect(v.counts.unresolved).toBe(1);
  });

  it('masks ids and numbers in failure reasons', () => {
    expect(failureReason('failed', 'connect ECONNREFUSED 127.0.0.1:5432 for t_0123456789abcdef')).toBe(
      'connect ECONNREFUSED N.N.N.N:N for t_…',
    );
    expect(failureReason('cancelled', null)).toBe('cancelled');
  });
});

describe('the soak fault schedule', () => {
  const input = {
    seed: 42,
    durationMs: 90_000,
    everyMs: 9_000,
    kinds: FAULT_KINDS,
    workers: ['worker-0', 'worker-1'],
    sims: ['llm-sim-0', 'llm-sim-1'],
  };

  it('is the same for the same seed, and another for another seed', () => {
    expect(planFaults(input)).toEqual(planFaults(input));
    expect(planFaults({ ...input, seed: 43 })).not.toEqual(planFaults(input));
  });

  it('covers every kind when it has the slots, spaced and away from both ends, never a kind twice in a row', () => {
    const plan = planFaults(input);
    expect(plan.length).toBeGreaterThanOrEqual(FAULT_KINDS.length);
    expect(new Set(plan.map((f) => f.kind))).toEqual(new Set(FAULT_KINDS));
    for (const [i, f] of plan.entries()) {
      expect(f.atMs).toBeGreaterThanOrEqual(QUIET_MS);
      expect(f.atMs).toBeLessThanOrEqual(input.durationMs - QUIET_MS);
      if (i > 0) {
        expect(f.atMs - plan[i - 1]!.atMs).toBeGreaterThan(input.everyMs * 0.75);
        expect(f.kind).not.toBe(plan[i - 1]!.kind);
      }
      if (f.kind === 'worker') expect(input.workers).toContain(f.target);
      if (f.kind === 'llm-sim') expect(input.sims).toContain(f.target);
      if (f.kind === 'llm-errors' || f.kind === 'llm-latency') expect(f.windowMs).toBe(4_500);
    }
  });
});
