import { isFinalStatus, sleep } from '@agent-fleet/core';
import type { TurnRecord, TurnRecords } from '@agent-fleet/turns';

export interface WaitForTurnOptions {
  timeoutMs: number;
  /** First poll interval; it grows by half each poll up to `maxIntervalMs`. Default 20 ms. */
  initialIntervalMs?: number;
  /** Default 500 ms: a finished turn is seen at most this late. */
  maxIntervalMs?: number;
  /** Stops waiting (the caller went away). */
  signal?: AbortSignal;
}

/**
 * Polls the hot turn record until the turn is final (completed, failed, cancelled, interrupted), with backoff: an idle fleet
 * answers in milliseconds, so the first polls come quickly, and a long turn costs a Redis read every
 * half second at most. Resolves with the final record, or null at the deadline or on abort.
 */
export async function waitForTurn(
  records: Pick<TurnRecords, 'get'>,
  turnId: string,
  opts: WaitForTurnOptions,
): Promise<TurnRecord | null> {
  const deadline = Date.now() + opts.timeoutMs;
  let interval = opts.initialIntervalMs ?? 20;
  const max = opts.maxIntervalMs ?? 500;
  for (;;) {
    if (opts.signal?.aborted) return null;
    const record = await records.get(turnId);
    if (record && isFinalStatus(record.status)) return record;
    const left = deadline - Date.now();
    if (left <= 0) return null;
    // An abort ends the wait; the loop's check answers null.
    await sleep(Math.min(interval, left), opts.signal).catch(() => undefined);
    interval = Math.min(max, Math.ceil(interval * 1.5));
  }
}
