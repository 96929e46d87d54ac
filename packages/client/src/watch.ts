import { FleetError, isFinalStatus, sleep } from '@agent-fleet/core';
import type { TurnEvent, TurnRecord, WaitOptions } from './types.ts';

const DEFAULT_TIMEOUT_MS = 5 * 60_000;
const DEFAULT_POLL = { initial: 25, max: 1000 };

/**
 * Follows one turn by polling its record with backoff (fast at first, then at most once a
 * second; back to fast after each change), yielding each status change until a final one. Throws
 * `not_found` for an unknown turn, `timeout` past the deadline, and the signal's reason on abort.
 */
export async function* watchTurn(
  get: (turnId: string) => Promise<TurnRecord | null>,
  turnId: string,
  opts: WaitOptions = {},
): AsyncGenerator<TurnEvent, void, undefined> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const poll = opts.pollMs ?? DEFAULT_POLL;
  const deadline = Date.now() + timeoutMs;
  let last: TurnRecord['status'] | undefined;
  let delay = poll.initial;
  for (;;) {
    opts.signal?.throwIfAborted();
    const turn = await get(turnId);
    if (!turn) throw new FleetError('not_found', `turn ${turnId} not found`, { details: { turnId } });
    if (turn.status !== last) {
      last = turn.status;
      delay = poll.initial;
      yield { type: 'status', status: turn.status, turn };
    }
    if (isFinalStatus(turn.status)) return;
    const left = deadline - Date.now();
    if (left <= 0)
      throw new FleetError('timeout', `turn ${turnId} is still ${turn.status} after ${timeoutMs} ms`, {
        details: { turnId, status: turn.status },
      });
    await sleep(Math.min(delay, left), opts.signal);
    delay = Math.min(delay * 1.5, poll.max);
  }
}

/**
 * The final record of a turn (completed, failed, cancelled or interrupted): how a turn ended is a
 * status, not an exception.
 */
export async function waitForFinal(
  get: (turnId: string) => Promise<TurnRecord | null>,
  turnId: string,
  opts?: WaitOptions,
): Promise<TurnRecord> {
  let final: TurnRecord | undefined;
  for await (const event of watchTurn(get, turnId, opts)) if (event.type === 'status') final = event.turn;
  return final!;
}
