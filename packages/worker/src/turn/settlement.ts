import { type HistoryMessage, storableText, type TurnJob } from '@agent-fleet/core';
import type { Citation } from '@agent-fleet/rag';
import type { TranscriptMessage, TurnTranscript } from '@agent-fleet/state';
import type { CommitInput, TurnEvent } from '@agent-fleet/turns';
import { messageTokens } from '../memory.ts';
import type { CoalescedTurn } from './checkpoint.ts';

/**
 * Why a turn failed, as the failure counter labels it (a bounded set; the reason text goes to the
 * turn's record): `outage` (a dependency stayed away past TURN_OUTAGE_WINDOW_MS), `attempts` (an
 * error of unknown cause on its last attempt), `refused` (an error no attempt can fix: a value
 * Postgres refuses, an unreadable checkpoint, a non-retryable error), `stalled` (its job stalled
 * more than MAX_STALLED_COUNT times), `recovery` (recovery ran it again MAX_RECOVERIES times),
 * `quota` (a token budget of its tenant or user was used up before a model call).
 */
export const FAILURE_REASONS = ['outage', 'attempts', 'refused', 'stalled', 'recovery', 'quota'] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

/**
 * How one delivery of a turn ends. Every kind but `retry` ends the turn for good: it is recorded,
 * committed in the gate, and the user's next turn is woken. `retry` gives the lease back and lets
 * the queue deliver the turn again (it resumes from its checkpoint).
 */
export type Settlement =
  | { kind: 'completed'; reply: string; citations: Citation[]; coalesced: CoalescedTurn[] }
  /** Stopped at a step boundary for a newer message; what the model had said is kept. */
  | { kind: 'interrupted'; partial: string }
  | { kind: 'cancelled' }
  | { kind: 'failed'; reason: string; cause: FailureReason }
  | { kind: 'retry'; error: Error };

export type FinalSettlement = Exclude<Settlement, { kind: 'retry' }>;

/**
 * How the transcript takes a settlement's rows. `required`: a row that cannot be stored because
 * Postgres is away (or fails for an unknown cause) stops the finish, to be tried again. `best-effort`
 * (a failed turn whose outage outlasted its window): any error moves on to the next fallback row,
 * then to committing without a row.
 */
export type TranscriptMode = 'required' | 'best-effort';

/** The delivery a settlement belongs to. `lease` '' settles a turn nobody runs (repairs, stalled jobs). */
export interface TurnDelivery {
  job: TurnJob;
  lease: string;
  /** When this delivery started running it (completed turns record it). */
  startedAt?: number;
}

/** What settling a turn writes, in the order it is written. */
export interface SettlementRecords {
  /** Transcript rows; each is written before its turn is committed. */
  transcripts: TurnTranscript[];
  /** Gate commits in seq order; the user's next turn is woken after the last one. */
  commits: CommitInput[];
  /** The `done` event of every turn the settlement ends. */
  done: { turnId: string; event: TurnEvent }[];
}

export const CANCELLED_REASON = 'cancelled by request';
export const INTERRUPTED_REASON = 'interrupted by a newer message';

/** The records of a final settlement: pure, so what each outcome writes is visible (and tested) here. */
export function settlementRecords(turn: TurnDelivery, s: FinalSettlement, now: number): SettlementRecords {
  switch (s.kind) {
    case 'completed':
      return completedRecords(turn, s, now);
    case 'interrupted': {
      const said = s.partial ? `${s.partial}\n\n[${INTERRUPTED_REASON}]` : `[${INTERRUPTED_REASON}]`;
      const messages: TranscriptMessage[] = [
        { role: 'user', content: turn.job.text },
        { role: 'assistant', content: said },
      ];
      return unanswered(turn, { status: 'interrupted', reason: INTERRUPTED_REASON, messages }, now);
    }
    case 'cancelled':
      return unanswered(turn, { status: 'cancelled', reason: CANCELLED_REASON }, now);
    case 'failed':
      return unanswered(turn, { status: 'failed', reason: s.reason }, now);
  }
}

/**
 * The turn's own row, commit and event, and those of each coalesced turn: they complete with the
 * same reply, carry no messages of their own (this turn's row holds them), and commit in seq order.
 */
function completedRecords(
  turn: TurnDelivery,
  s: Extract<Settlement, { kind: 'completed' }>,
  now: number,
): SettlementRecords {
  const t = turn.job;
  const messages: TranscriptMessage[] = [
    ...[t.text, ...s.coalesced.map((c) => c.text)].map((content) => ({ role: 'user' as const, content })),
    { role: 'assistant', content: s.reply },
  ];
  const cited = s.citations.length > 0 ? { citations: s.citations } : {};
  const event: TurnEvent = { type: 'done', status: 'completed', reply: s.reply, citations: s.citations };
  return {
    transcripts: [
      {
        ...row(t, now),
        status: 'completed',
        ...(turn.startedAt === undefined ? {} : { startedAt: turn.startedAt }),
        messages,
        citations: s.citations,
      },
      ...s.coalesced.map((c) => ({
        turnId: c.turnId,
        userId: t.userId,
        seq: c.seq,
        status: 'completed' as const,
        enqueuedAt: c.enqueuedAt,
        completedAt: now,
        messages: [],
        citations: s.citations,
      })),
    ],
    commits: [
      { ...commit(turn, 'completed', s.reply), messages: history(t, messages), ...cited },
      ...s.coalesced.map((c) => ({
        userId: t.userId,
        seq: c.seq,
        turnId: c.turnId,
        token: '',
        status: 'completed' as const,
        outcome: s.reply,
        ...cited,
      })),
    ],
    done: [t, ...s.coalesced].map(({ turnId }) => ({ turnId, event })),
  };
}

/** A turn that ends without an answer: its user message (and `messages` when given) are kept. */
function unanswered(
  turn: TurnDelivery,
  end: { status: 'interrupted' | 'cancelled' | 'failed'; reason: string; messages?: TranscriptMessage[] },
  now: number,
): SettlementRecords {
  const t = turn.job;
  const messages = end.messages ?? [{ role: 'user', content: t.text }];
  return {
    transcripts: [{ ...row(t, now), status: end.status, error: end.reason, messages }],
    commits: [
      {
        ...commit(turn, end.status, end.reason),
        ...(end.messages ? { messages: history(t, messages) } : {}),
      },
    ],
    done: [{ turnId: t.turnId, event: { type: 'done', status: end.status, error: end.reason } }],
  };
}

/** Longest reason kept on a row stored without its messages. */
const BARE_REASON_CHARS = 2000;

/**
 * The rows to try, in order, for a turn that ended without an answer when Postgres refuses its row:
 * the row as it is; then with every text Postgres cannot store made storable (the user's text is
 * kept, NULs replaced); then without messages, with its reason alone. Pure, so what a refused turn
 * leaves in the transcript is visible (and tested) here.
 */
export function storableFallbacks(r: TurnTranscript): TurnTranscript[] {
  const storable: TurnTranscript = {
    ...r,
    ...(r.error === undefined ? {} : { error: storableText(r.error) }),
    messages: r.messages.map((m) => ({ ...m, content: storableText(m.content) })),
  };
  const changed =
    storable.error !== r.error || storable.messages.some((m, i) => m.content !== r.messages[i]!.content);
  const bare: TurnTranscript = {
    ...storable,
    ...(storable.error === undefined ? {} : { error: storable.error.slice(0, BARE_REASON_CHARS) }),
    messages: [],
  };
  return [r, ...(changed ? [storable] : []), ...(r.messages.length > 0 ? [bare] : [])];
}

function row(t: TurnJob, now: number) {
  return {
    turnId: t.turnId,
    userId: t.userId,
    seq: t.seq,
    ...(t.threadId ? { threadId: t.threadId } : {}),
    enqueuedAt: t.enqueuedAt,
    completedAt: now,
  };
}

function commit(turn: TurnDelivery, status: CommitInput['status'], outcome: string): CommitInput {
  const t = turn.job;
  return { userId: t.userId, seq: t.seq, turnId: t.turnId, token: turn.lease, status, outcome };
}

/** Messages as the history keeps them: tagged with the turn and counted in tokens. */
function history(t: TurnJob, messages: TranscriptMessage[]): HistoryMessage[] {
  return messages.map((m) => ({ ...m, turnId: t.turnId, seq: t.seq, tokens: messageTokens(m.content) }));
}
