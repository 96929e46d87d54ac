import { FleetError } from '@agent-fleet/core';
import { classifyError } from './errors.ts';
import type { Execution } from './execute.ts';
import type { PreparedTurn } from './prepare.ts';
import type { FinalSettlement, Settlement, TranscriptMode } from './settlement.ts';

/** Where a delivery stands when it settles. */
export interface SettleContext {
  /** This delivery's attempt, from 1. */
  attempt: number;
  /** Attempts a turn gets before it fails. */
  attempts: number;
  /** The turn's abort signal: a cancellation explains whatever the run threw. */
  signal?: AbortSignal;
  /** What the model had said so far (kept when the turn is interrupted). */
  partial: string;
}

/** A run that finished: the turn completed, answering its coalesced messages too. */
export function settleRun(prepared: PreparedTurn, execution: Execution): Settlement {
  return {
    kind: 'completed',
    reply: execution.reply,
    citations: execution.citations,
    coalesced: prepared.coalesced,
  };
}

/** A dependency is away: the delivery waits for it and tries the same step again, using no attempt. */
export interface Outage {
  kind: 'outage';
  error: Error;
}

/**
 * The error ladder of a run that threw: cancelled and interrupted turns end as such; a permanent
 * error fails the turn; an outage is waited out; a transient error retries the turn while attempts
 * are left, then fails it.
 */
export function settleError(caught: unknown, ctx: SettleContext): Settlement | Outage {
  const c = classifyError(caught, ctx.signal);
  switch (c.kind) {
    case 'cancelled':
      return { kind: 'cancelled' };
    case 'interrupted':
      return { kind: 'interrupted', partial: ctx.partial };
    case 'outage':
      return { kind: 'outage', error: c.error };
    case 'superseded':
      return { kind: 'retry', error: c.error };
    case 'permanent':
      return {
        kind: 'failed',
        reason: c.error.message,
        cause: isQuotaExceeded(c.error) ? 'quota' : 'refused',
      };
    case 'transient':
      return ctx.attempt >= ctx.attempts
        ? { kind: 'failed', reason: c.error.message, cause: 'attempts' }
        : { kind: 'retry', error: c.error };
  }
}

/** What recording after an error does: which settlement, and how the transcript takes its row. */
export interface Recording {
  kind: 'record';
  settlement: Settlement;
  transcript: TranscriptMode;
}

/** What to do once recording a settlement failed: wait, record something (again), or fail the job. */
export type RecordingStep = Outage | Recording | { kind: 'throw'; error: Error };

/**
 * The ladder for an error met while recording `step`. The run's work is checkpointed, so nothing
 * here redoes a model or tool call. A dependency away is waited out; a delivery whose lease another
 * took stops (that one records the turn). A completed turn whose row Postgres refuses fails with
 * the reason (a failed turn's row falls back to what Postgres can store, see TurnFinisher). An error
 * of unknown cause retries the delivery while attempts are left; then a completed turn fails with
 * it, and a turn without an answer is recorded best-effort, since it must end. A best-effort
 * recording that fails too is the last: the job fails, and the recovery sweep takes the turn up.
 */
export function settleRecordingError(
  caught: unknown,
  step: Recording,
  ctx: Pick<SettleContext, 'attempt' | 'attempts'>,
): RecordingStep {
  const s = step.settlement;
  const c = classifyError(caught);
  const error = caught instanceof Error ? caught : new Error(String(caught));
  if (c.kind === 'superseded')
    return { kind: 'record', settlement: { kind: 'retry', error }, transcript: 'required' };
  if (
    c.kind === 'cancelled' ||
    c.kind === 'interrupted' ||
    s.kind === 'retry' ||
    step.transcript === 'best-effort'
  )
    return { kind: 'throw', error };
  if (c.kind === 'outage') return c;
  if (c.kind === 'transient' && ctx.attempt < ctx.attempts)
    return { kind: 'record', settlement: { kind: 'retry', error: c.error }, transcript: 'required' };
  if (s.kind === 'completed')
    return {
      kind: 'record',
      settlement: {
        kind: 'failed',
        reason: c.error.message,
        cause: c.kind === 'permanent' ? 'refused' : 'attempts',
      },
      transcript: 'required',
    };
  if (c.kind === 'permanent') return { kind: 'throw', error: c.error };
  return { kind: 'record', settlement: s, transcript: 'best-effort' };
}

/**
 * The outage outlasted the window while `s` was being recorded: a completed turn fails with
 * `reason`, any other keeps its outcome, and the transcript takes the row best-effort (Postgres may
 * be what is away), so the turn ends and the user's next one runs.
 */
export function settleOutageOver(s: FinalSettlement, reason: string): Recording {
  const settlement: Settlement = s.kind === 'completed' ? { kind: 'failed', reason, cause: 'outage' } : s;
  return { kind: 'record', settlement, transcript: 'best-effort' };
}

const isQuotaExceeded = (err: Error) => err instanceof FleetError && err.code === 'quota_exceeded';
