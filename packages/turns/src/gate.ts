import {
  type FinalStatus,
  FleetError,
  type HistoryMessage,
  type RedisClient,
  userKeys,
} from '@agent-fleet/core';
import { scripts } from './lua.ts';

/** What the history list carries beside its messages. */
export interface HistoryMeta {
  /** Seq of the last turn appended (0: none, or Redis lost the history). */
  lastSeq: number;
  /** Tokens of the messages in the list. */
  tokens: number;
  /** The rolling summary of the turns folded out of the list, and the seq it covers up to. */
  summary?: string;
  summaryUpTo: number;
}

export type BeginResult =
  | {
      kind: 'acquired';
      done: number;
      scratchpad: Record<string, string>;
      history: HistoryMessage[];
      meta: HistoryMeta;
    }
  | { kind: 'duplicate'; done: number }
  | { kind: 'park'; done: number }
  | { kind: 'busy'; done: number; leaseMsLeft: number };

export interface CommitInput {
  userId: string;
  seq: number;
  turnId: string;
  /** The lease holder; '' finishes a turn only while nobody holds the lease (repair). */
  token: string;
  status: FinalStatus;
  /** The reply of a completed turn, the error of a failed one. */
  outcome: string;
  /** Messages to append to the history (completed turns). */
  messages?: HistoryMessage[];
  /** The sources the reply cites, kept with the turn record. */
  citations?: unknown[];
}

export type CommitResult =
  | { kind: 'finished'; nextPayload: string | null; historyTokens: number }
  | { kind: 'already-finished' };

/** What the gate knows of a user: the last finished turn, the next pending payload, the lease. */
export interface GateView {
  done: number;
  nextPayload: string | null;
  leaseHolder: string | null;
}

export interface TurnGateOptions {
  redis: RedisClient;
  namespace: string;
  leaseMs: number;
  recordTtlSeconds: number;
  /** How long a user's hot state stays once nothing of theirs is pending (HOT_STATE_TTL). */
  hotStateTtlSeconds: number;
}

/** The history a rebuild from the durable transcript puts back. */
export interface RebuiltHistory {
  messages: HistoryMessage[];
  lastSeq: number;
  summary?: string;
  summaryUpTo: number;
}

/**
 * The per-user turn gate (the README's "Per-user strict order without head-of-line blocking").
 * Turn `seq` runs only once `seq-1` is finished and while this delivery holds the user's lease;
 * order lives in `seq`/`done`, not in queue position, so retries, redeliveries and parallel
 * workers cannot reorder a user's turns.
 * `begin` and `commit` are one Lua call each: passing the gate also loads the history and the
 * scratchpad, and finishing appends the history, records the outcome and wakes the next turn.
 * Finishing the user's last pending turn starts their hot state's TTL; accepting one stops it.
 */
export class TurnGate {
  readonly #redis: RedisClient;
  readonly #namespace: string;
  readonly #leaseMs: number;
  readonly #recordTtl: number;
  readonly #hotStateTtl: number;

  constructor(opts: TurnGateOptions) {
    this.#redis = opts.redis;
    this.#namespace = opts.namespace;
    this.#leaseMs = opts.leaseMs;
    this.#recordTtl = opts.recordTtlSeconds;
    this.#hotStateTtl = opts.hotStateTtlSeconds;
  }

  get leaseMs(): number {
    return this.#leaseMs;
  }

  async begin(userId: string, seq: number, turnId: string, token: string): Promise<BeginResult> {
    const k = userKeys(this.#namespace, userId);
    const [code, done, pttl, scratch, history, meta] = (await scripts.turnBegin.run(
      this.#redis,
      [k.done, k.lease, k.history, k.scratchpad(turnId), k.record(turnId), k.historyMeta, k.pending],
      [seq, token, this.#leaseMs, Date.now(), this.#recordTtl],
    )) as [number, number, number, string[] | undefined, string[] | undefined, string[] | undefined];
    switch (code) {
      case 1:
        return { kind: 'acquired', done, scratchpad: pairs(scratch), ...decodeHistory(history, meta) };
      case 0:
        return { kind: 'duplicate', done };
      case 2:
        return { kind: 'park', done };
      case 3:
        return { kind: 'busy', done, leaseMsLeft: Math.max(pttl, 0) };
      default:
        throw new FleetError('protocol_violation', `turn-begin returned unknown code ${code}`);
    }
  }

  async commit(c: CommitInput): Promise<CommitResult> {
    const k = userKeys(this.#namespace, c.userId);
    const [code, next, tokens] = (await scripts.turnCommit.run(
      this.#redis,
      [
        k.done,
        k.lease,
        k.pending,
        k.history,
        k.historyMeta,
        k.scratchpad(c.turnId),
        k.record(c.turnId),
        k.seq,
        k.interrupt,
      ],
      [
        c.seq,
        c.token,
        Date.now(),
        this.#recordTtl,
        (c.messages ?? []).reduce((n, m) => n + (m.tokens ?? 0), 0),
        c.status,
        c.outcome,
        c.citations?.length ? JSON.stringify(c.citations) : '',
        this.#hotStateTtl,
        ...(c.messages ?? []).map((m) => JSON.stringify(m)),
      ],
    )) as [number, string | null, number | undefined];
    switch (code) {
      case 1:
        return { kind: 'finished', nextPayload: next ?? null, historyTokens: tokens ?? 0 };
      case 0:
        return { kind: 'already-finished' };
      case -1:
        throw new FleetError(
          'protocol_violation',
          `turn ${c.seq} of ${c.userId} finished before its predecessor`,
          {
            retryable: true,
          },
        );
      case -2:
        throw new FleetError('conflict', `turn ${c.seq} of ${c.userId} is held by another delivery`, {
          retryable: true,
        });
      default:
        throw new FleetError('protocol_violation', `turn-commit returned unknown code ${code}`);
    }
  }

  /**
   * Keeps turn `seq`'s lease for `token`, taking it again when it expired and nobody else holds it.
   * Returns false when another delivery holds it (or the turn is finished): stop this one.
   */
  async renew(userId: string, seq: number, token: string): Promise<boolean> {
    const k = userKeys(this.#namespace, userId);
    return (await scripts.gateRenew.run(this.#redis, [k.lease, k.done], [token, this.#leaseMs, seq])) === 1;
  }

  /**
   * Gives the lease back without finishing the turn (the attempt failed and will be retried, or the
   * worker is shutting down), so the next delivery need not wait for it to expire; false when it
   * was no longer ours. A lease is a lock taken with a token, released as any.
   */
  async release(userId: string, token: string): Promise<boolean> {
    const k = userKeys(this.#namespace, userId);
    return (await scripts.lockRelease.run(this.#redis, [k.lease], [token])) === 1;
  }

  async peek(userId: string): Promise<GateView> {
    const k = userKeys(this.#namespace, userId);
    const [done, next, holder] = (await scripts.gatePeek.run(
      this.#redis,
      [k.done, k.lease, k.pending],
      [],
    )) as [number, string | null, string | null];
    return { done, nextPayload: next ?? null, leaseHolder: holder ?? null };
  }

  /**
   * Replace the oldest `messages` of the history by `summary` (they must still be the oldest).
   * Returns the tokens left, or null when the history changed meanwhile and nothing was folded.
   */
  async fold(userId: string, messages: HistoryMessage[], summary: string): Promise<number | null> {
    if (messages.length === 0) return null;
    const k = userKeys(this.#namespace, userId);
    const left = (await scripts.historyFold.run(
      this.#redis,
      [k.history, k.historyMeta],
      [
        messages[0]!.seq,
        messages.at(-1)!.seq,
        messages.length,
        messages.reduce((n, m) => n + (m.tokens ?? 0), 0),
        summary,
      ],
    )) as number;
    return left < 0 ? null : left;
  }

  /**
   * Put back a history rebuilt from the durable transcript (the user's hot state expired, or Redis
   * lost it), while `token` holds the user's lease; a history written meanwhile is kept. Returns the
   * history the turn goes on with, or null when the lease is another delivery's (nothing written).
   */
  async rebuild(
    userId: string,
    token: string,
    h: RebuiltHistory,
  ): Promise<{ messages: HistoryMessage[]; meta: HistoryMeta } | null> {
    const k = userKeys(this.#namespace, userId);
    const tokens = h.messages.reduce((n, m) => n + (m.tokens ?? 0), 0);
    const [code, history, meta] = (await scripts.historyRebuild.run(
      this.#redis,
      [k.history, k.historyMeta, k.lease],
      [token, h.lastSeq, tokens, h.summary ?? '', h.summaryUpTo, ...h.messages.map((m) => JSON.stringify(m))],
    )) as [number, string[] | undefined, string[] | undefined];
    if (code < 0) return null;
    const decoded = decodeHistory(history, meta);
    return { messages: decoded.history, meta: decoded.meta };
  }

  /** The payloads of the turns accepted after `seq` and not finished, in order (at most `max`). */
  async pendingAfter(userId: string, seq: number, max = 20): Promise<{ seq: number; payload: string }[]> {
    const k = userKeys(this.#namespace, userId);
    const seqs = Array.from({ length: max }, (_, i) => seq + 1 + i);
    const values = await this.#redis.hmget(k.pending, ...seqs.map(String));
    const out: { seq: number; payload: string }[] = [];
    for (const [i, v] of values.entries()) {
      if (v === null) break;
      out.push({ seq: seqs[i]!, payload: v });
    }
    return out;
  }

  /** The user's history and its meta, as the next turn would see them. */
  async historyState(userId: string): Promise<{ messages: HistoryMessage[]; meta: HistoryMeta }> {
    const k = userKeys(this.#namespace, userId);
    const [items, meta] = await Promise.all([
      this.#redis.lrange(k.history, 0, -1),
      this.#redis.hgetall(k.historyMeta),
    ]);
    return { messages: items.map((s) => JSON.parse(s) as HistoryMessage), meta: decodeMeta(meta) };
  }

  /** The user's history as the next turn would see it. */
  async history(userId: string): Promise<HistoryMessage[]> {
    const items = await this.#redis.lrange(userKeys(this.#namespace, userId).history, 0, -1);
    return items.map((s) => JSON.parse(s) as HistoryMessage);
  }
}

function decodeHistory(
  items: string[] | undefined,
  flatMeta: string[] | undefined,
): { history: HistoryMessage[]; meta: HistoryMeta } {
  return {
    history: (items ?? []).map((s) => JSON.parse(s) as HistoryMessage),
    meta: decodeMeta(pairs(flatMeta)),
  };
}

function decodeMeta(m: Record<string, string | undefined>): HistoryMeta {
  return {
    lastSeq: Number(m.lastSeq ?? 0),
    tokens: Number(m.tokens ?? 0),
    ...(m.summary ? { summary: m.summary } : {}),
    summaryUpTo: Number(m.summaryUpTo ?? 0),
  };
}

function pairs(flat: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; flat && i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}
