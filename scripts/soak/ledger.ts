import { isFinalStatus, type TurnStatus } from '@agent-fleet/core';

/** How a message reaches the fleet: the gateway over HTTP, or the SDK straight into Redis. */
export type Channel = 'http' | 'sdk';

/** What one request got back. */
export type SendOutcome =
  /** The fleet took the message as turn `seq` of the user (`replayed`: the idempotency key matched). */
  | { kind: 'accepted'; turnId: string; seq: number; replayed: boolean }
  /**
   * A definite no: 429 or 503 from the gateway, or a connection refused before anything was sent.
   * Nothing was accepted, so the client does not retry it: the message counts as refused.
   */
  | { kind: 'refused'; reason: string }
  /** No answer to trust (the connection dropped mid-request, a 500, a timeout): it may have been accepted. */
  | { kind: 'unknown'; reason: string };

/**
 * One message as the client knows it. A message whose answer was lost is retried with the same
 * Idempotency-Key until a definite answer comes (the gateway then returns the turn the first try
 * created, if it did), so every message ends `accepted`, `refused` or, when the fleet never
 * answered again before the drain ended, `unresolved`.
 */
export interface LedgerEntry {
  /** `<user>#<index>`: also inside the text, so the transcript row of a message can be found from it. */
  readonly id: string;
  readonly userId: string;
  readonly channel: Channel;
  /** The user's n-th message, from 1: the send order the seq order must follow. */
  readonly index: number;
  readonly text: string;
  readonly idempotencyKey: string;
  readonly sentAt: number;
  state: 'sending' | 'accepted' | 'refused' | 'unresolved';
  /** Requests made for it (more than one when an answer was lost). */
  requests: number;
  /** Why the last request had no trustworthy answer, or why it was refused. */
  reason?: string;
  turnId?: string;
  seq?: number;
  /** When the 202 (or the SDK's answer) arrived. */
  acceptedAt?: number;
  /** Accepted on a retry after a lost answer. */
  resolvedByRetry?: boolean;
  /** What the first request got instead of an answer, when it got none to trust. */
  lostAnswer?: string;
  /** The turn's status as last read from its Redis record while the run went on. */
  status?: TurnStatus;
  enqueuedAt?: number;
  completedAt?: number;
}

/** Every message the soak sent, in send order, with what became of it. */
export class Ledger {
  readonly entries: LedgerEntry[] = [];
  readonly #byUser = new Map<string, LedgerEntry[]>();
  readonly #byTurn = new Map<string, LedgerEntry>();

  /** Records a message about to be sent: the user's next index. */
  open(userId: string, channel: Channel, runTag: string): LedgerEntry {
    const mine = this.#byUser.get(userId) ?? [];
    this.#byUser.set(userId, mine);
    const index = mine.length + 1;
    const id = `${userId}#${index}`;
    const entry: LedgerEntry = {
      id,
      userId,
      channel,
      index,
      text: `soak message ${index} of ${userId} (${id})`,
      idempotencyKey: `soak-${runTag}-${userId}-${index}`,
      sentAt: Date.now(),
      state: 'sending',
      requests: 0,
    };
    mine.push(entry);
    this.entries.push(entry);
    return entry;
  }

  accept(entry: LedgerEntry, outcome: Extract<SendOutcome, { kind: 'accepted' }>): void {
    entry.state = 'accepted';
    entry.turnId = outcome.turnId;
    entry.seq = outcome.seq;
    entry.acceptedAt = Date.now();
    entry.resolvedByRetry = entry.requests > 1;
    delete entry.reason;
    this.#byTurn.set(outcome.turnId, entry);
  }

  byUser(userId: string): readonly LedgerEntry[] {
    return this.#byUser.get(userId) ?? [];
  }

  users(): string[] {
    return [...this.#byUser.keys()];
  }

  byTurn(turnId: string): LedgerEntry | undefined {
    return this.#byTurn.get(turnId);
  }

  /** Accepted messages whose turn was not seen in a final status yet. */
  openTurns(): LedgerEntry[] {
    return this.entries.filter((e) => e.state === 'accepted' && !isFinal(e.status));
  }

  counts(): LedgerCounts {
    const c: LedgerCounts = { sent: 0, accepted: 0, refused: 0, pending: 0, answered: 0, failed: 0 };
    for (const e of this.entries) {
      c.sent++;
      if (e.state === 'accepted') c.accepted++;
      else if (e.state === 'refused') c.refused++;
      else c.pending++;
      if (e.status === 'completed') c.answered++;
      else if (isFinal(e.status)) c.failed++;
    }
    return c;
  }
}

/** Running totals for progress lines. */
export interface LedgerCounts {
  sent: number;
  accepted: number;
  refused: number;
  /** Sending, or retrying after a lost answer. */
  pending: number;
  answered: number;
  failed: number;
}

/** Completed, failed, cancelled or interrupted; a turn never seen (undefined) is not. */
export function isFinal(status: TurnStatus | undefined): boolean {
  return status !== undefined && isFinalStatus(status);
}
