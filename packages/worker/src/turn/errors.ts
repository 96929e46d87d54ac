import { asUnavailable, FleetError, refusedByPostgres } from '@agent-fleet/core';
import { UnrecoverableError } from 'bullmq';

/** Why a turn stopped when someone cancelled it. */
export class CancelledError extends FleetError {
  constructor() {
    super('conflict', 'cancelled by request', { retryable: false });
    this.name = 'CancelledError';
  }
}

/** Why a turn stopped at a step boundary when a later message asked to interrupt it. */
export class InterruptedError extends FleetError {
  constructor() {
    super('conflict', 'interrupted by a newer message', { retryable: false });
    this.name = 'InterruptedError';
  }
}

/**
 * Why a delivery stopped when it found the user's lease held by another delivery of the same turn
 * (its job was delivered again after this one's lock lapsed): that one runs the turn now.
 */
export class LeaseLostError extends FleetError {
  constructor() {
    super('conflict', 'turn lease lost: another delivery runs this turn', { retryable: true });
    this.name = 'LeaseLostError';
  }
}

/** What an error means for the turn it stopped. */
export type ErrorClass =
  | { kind: 'cancelled' }
  | { kind: 'interrupted' }
  /** Another delivery runs the turn now: this one stops, recording nothing. */
  | { kind: 'superseded'; error: Error }
  /**
   * A dependency is away (Postgres or Redis unreachable, every LLM server down): wait for it and
   * try again, without using an attempt, within the outage window.
   */
  | { kind: 'outage'; error: Error }
  /** Another attempt may succeed (a failure of unknown cause). */
  | { kind: 'transient'; error: Error }
  /**
   * Another attempt would fail the same way: a non-retryable FleetError, an unreadable checkpoint,
   * a statement Postgres refuses for what it holds (a NUL in text, a value too large).
   */
  | { kind: 'permanent'; error: Error };

/**
 * The one place that decides what an error means for a turn; every path that ends a turn, retries
 * it or waits goes through here. A cancellation explains whatever the aborted work threw (an
 * AbortError from a model call, say), so the abort reason (a cancellation, a lost lease) wins over
 * the error itself. What Postgres
 * refuses and what cannot be reached (Redis, Postgres, the LLM pool's `unavailable`) are told
 * apart by core (`refusedByPostgres`, `asUnavailable`), looking through wrapped causes. Errors of
 * unknown cause count as transient: they get the turn's remaining attempts.
 */
export function classifyError(caught: unknown, signal?: AbortSignal): ErrorClass {
  const reason: unknown = signal?.reason;
  const err = reason instanceof CancelledError || reason instanceof LeaseLostError ? reason : caught;
  if (err instanceof CancelledError) return { kind: 'cancelled' };
  if (err instanceof InterruptedError) return { kind: 'interrupted' };
  if (err instanceof LeaseLostError) return { kind: 'superseded', error: err };
  const error = err instanceof Error ? err : new Error(String(err));
  if (error instanceof UnrecoverableError) return { kind: 'permanent', error };
  if (refusedByPostgres(error)) return { kind: 'permanent', error };
  if (asUnavailable(error)) return { kind: 'outage', error };
  if (error instanceof FleetError && !error.isRetryable) return { kind: 'permanent', error };
  return { kind: 'transient', error };
}
