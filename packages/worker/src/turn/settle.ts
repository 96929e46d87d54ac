import { classifyError } from './errors.ts';
import type { Execution } from './execute.ts';
import type { PreparedTurn } from './prepare.ts';
import type { Settlement } from './settlement.ts';

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

/**
 * The error ladder of a run that threw: cancelled and interrupted turns end as such; a permanent
 * error fails the turn; a transient one retries it while attempts are left, then fails it.
 */
export function settleError(caught: unknown, ctx: SettleContext): Settlement {
  const c = classifyError(caught, ctx.signal);
  switch (c.kind) {
    case 'cancelled':
      return { kind: 'cancelled' };
    case 'interrupted':
      return { kind: 'interrupted', partial: ctx.partial };
    case 'permanent':
      return { kind: 'failed', reason: c.error.message };
    case 'transient':
      return ctx.attempt >= ctx.attempts
        ? { kind: 'failed', reason: c.error.message }
        : { kind: 'retry', error: c.error };
  }
}

/**
 * The ladder for an error met while recording a settlement (the transcript or the gate refused
 * or was away). The run's work is checkpointed, so a retry redoes no model or tool call; when no
 * retry is due, the turn fails with that error so the user's next turn can run.
 */
export function settleRecordingError(
  caught: unknown,
  ctx: Omit<SettleContext, 'signal' | 'partial'>,
): Extract<Settlement, { kind: 'failed' | 'retry' }> {
  const c = classifyError(caught);
  if (c.kind === 'transient' && ctx.attempt < ctx.attempts) return { kind: 'retry', error: c.error };
  const reason = c.kind === 'transient' || c.kind === 'permanent' ? c.error.message : c.kind;
  return { kind: 'failed', reason };
}
