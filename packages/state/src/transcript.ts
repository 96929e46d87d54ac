import { type FinalStatus, refusedByPostgres, type UsageLine } from '@agent-fleet/core';
import type { Pool } from 'pg';
import { ledgerParams, ledgerUpsert, turnLedgerRows } from './usage-ledger.ts';

export interface TranscriptMessage {
  role: 'user' | 'assistant';
  content: string;
}

export interface TurnTranscript {
  turnId: string;
  userId: string;
  seq: number;
  threadId?: string;
  status: FinalStatus;
  error?: string;
  enqueuedAt: number;
  startedAt?: number;
  completedAt: number;
  messages: TranscriptMessage[];
  /** The sources the reply cites. */
  citations?: unknown[];
  /** The turn's token usage so far and the tenant it counts under, written to the usage ledger too. */
  usage?: { tenant: string; lines: UsageLine[] };
}

export interface HistoryEntry {
  turnId: string;
  seq: number;
  role: 'user' | 'assistant';
  content: string;
  createdAt: string;
}

/** One page of a user's history; see `Transcript.history`. */
export interface HistoryPage {
  messages: HistoryEntry[];
  nextAfterSeq: number | null;
}

const ms = (v: Date | null): number | undefined => (v ? v.getTime() : undefined);

interface Waiting {
  turn: TurnTranscript;
  resolve: (inserted: boolean) => void;
  reject: (err: unknown) => void;
}

/**
 * The durable transcript in Postgres: append-only, one row per turn (unique on turnId) and its
 * messages written in the same statement, so a redelivered turn is recorded exactly once. The
 * turn's usage goes to the usage ledger in that statement too (its rows only ever grow to the totals
 * given, see `ledgerUpsert`).
 *
 * Writes are group-committed: turns recorded while a write is in flight go together in the next
 * statement, so a busy worker pays one round trip and one transaction for many turns, and an idle
 * one pays no added latency.
 */
export class Transcript {
  readonly #pool: Pool;
  readonly #maxBatch: number;
  readonly #maxInFlight: number;
  #waiting: Waiting[] = [];
  #inFlight = 0;

  constructor(opts: { pool: Pool; maxBatch?: number; maxInFlight?: number }) {
    this.#pool = opts.pool;
    this.#maxBatch = opts.maxBatch ?? 128;
    this.#maxInFlight = opts.maxInFlight ?? 2;
  }

  /** Resolves false when the turn was already recorded. */
  record(turn: TurnTranscript): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ turn, resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#inFlight < this.#maxInFlight && this.#waiting.length > 0) {
      const batch = this.#waiting.splice(0, this.#maxBatch);
      this.#inFlight++;
      void this.#writeBatch(batch).finally(() => {
        this.#inFlight--;
        this.#pump();
      });
    }
  }

  /**
   * One statement for the batch. When Postgres refuses it for what a row holds (a value it cannot
   * store), each row is written alone, so that row fails by itself and the other turns are stored.
   */
  async #writeBatch(batch: Waiting[]): Promise<void> {
    try {
      const inserted = await this.#write(batch.map((w) => w.turn));
      for (const w of batch) w.resolve(inserted.has(w.turn.turnId));
    } catch (err) {
      if (batch.length > 1 && refusedByPostgres(err)) {
        await Promise.all(batch.map((w) => this.#writeBatch([w])));
        return;
      }
      for (const w of batch) w.reject(err);
    }
  }

  async #write(turns: TurnTranscript[]): Promise<Set<string>> {
    // A turn id twice in one statement would make ON CONFLICT see its own row; keep the first.
    const unique = [...new Map(turns.map((t) => [t.turnId, t])).values()];
    const msgs = unique.flatMap((t) => t.messages.map((m, idx) => ({ t, m, idx })));
    const usage = unique.flatMap((t) =>
      t.usage ? turnLedgerRows({ turnId: t.turnId, userId: t.userId, ...t.usage }) : [],
    );
    // A named statement: each connection parses and plans it once, and sends only the values after.
    const res = await this.#pool.query<{ turn_id: string }>({
      name: 'transcript-record',
      text: `WITH t AS (
         INSERT INTO turns (turn_id, user_id, seq, thread_id, status, error, enqueued_at, started_at, completed_at,
                            citations)
         SELECT x.turn_id, x.user_id, x.seq, x.thread_id, x.status, x.error, to_timestamp(x.enq / 1000),
                to_timestamp(x.st / 1000), to_timestamp(x.fin / 1000), x.citations
         FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::float8[],
                     $8::float8[], $9::float8[], $16::jsonb[])
              AS x(turn_id, user_id, seq, thread_id, status, error, enq, st, fin, citations)
         ON CONFLICT (turn_id) DO NOTHING
         RETURNING turn_id),
       m AS (
         INSERT INTO messages (turn_id, user_id, seq, idx, role, content)
         SELECT y.turn_id, y.user_id, y.seq, y.idx, y.role, y.content
         FROM unnest($10::text[], $11::text[], $12::bigint[], $13::smallint[], $14::text[], $15::text[])
              WITH ORDINALITY AS y(turn_id, user_id, seq, idx, role, content, ord)
         WHERE y.turn_id IN (SELECT turn_id FROM t)
         ORDER BY y.ord
         RETURNING 1),
       u AS (${ledgerUpsert(17)} RETURNING 1)
       SELECT turn_id FROM t`,
      values: [
        unique.map((t) => t.turnId),
        unique.map((t) => t.userId),
        unique.map((t) => t.seq),
        unique.map((t) => t.threadId ?? null),
        unique.map((t) => t.status),
        unique.map((t) => t.error ?? null),
        unique.map((t) => t.enqueuedAt),
        unique.map((t) => t.startedAt ?? null),
        unique.map((t) => t.completedAt),
        msgs.map((x) => x.t.turnId),
        msgs.map((x) => x.t.userId),
        msgs.map((x) => x.t.seq),
        msgs.map((x) => x.idx),
        msgs.map((x) => x.m.role),
        msgs.map((x) => x.m.content),
        unique.map((t) => (t.citations?.length ? JSON.stringify(t.citations) : null)),
        ...ledgerParams(usage),
      ],
    });
    return new Set(res.rows.map((r) => r.turn_id));
  }

  /**
   * A page of a user's messages in acceptance order, after `afterSeq`: at most `limit` messages in
   * whole turns (a single turn with more messages than `limit` comes whole, alone). `nextAfterSeq`
   * is the page's last seq while more may follow and null on the last page, so a client following
   * it sees every message exactly once and stops.
   */
  async history(userId: string, opts: { afterSeq?: number; limit?: number } = {}): Promise<HistoryPage> {
    const limit = opts.limit ?? 1000;
    const rows = await this.#messages(userId, 'seq > $2 ORDER BY seq, idx LIMIT $3', [
      opts.afterSeq ?? 0,
      limit + 1,
    ]);
    if (rows.length <= limit) return { messages: rows, nextAfterSeq: null };
    // The message past the page tells whether the page ends inside a turn; that turn goes to the next page.
    const split = rows[limit]!.seq;
    let messages = rows.slice(0, limit).filter((m) => m.seq !== split);
    if (messages.length === 0) messages = await this.#messages(userId, 'seq = $2 ORDER BY idx', [split]);
    return { messages, nextAfterSeq: messages.at(-1)!.seq };
  }

  async #messages(userId: string, where: string, params: unknown[]): Promise<HistoryEntry[]> {
    const res = await this.#pool.query<{
      turn_id: string;
      seq: string;
      role: 'user' | 'assistant';
      content: string;
      created_at: Date;
    }>(`SELECT turn_id, seq, role, content, created_at FROM messages WHERE user_id = $1 AND ${where}`, [
      userId,
      ...params,
    ]);
    return res.rows.map((r) => ({
      turnId: r.turn_id,
      seq: Number(r.seq),
      role: r.role,
      content: r.content,
      createdAt: r.created_at.toISOString(),
    }));
  }

  /** The highest seq recorded for a user (0 for none): where numbering resumes if Redis lost it. */
  async maxSeq(userId: string): Promise<number> {
    const res = await this.#pool.query<{ max: string | null }>(
      'SELECT max(seq) AS max FROM turns WHERE user_id = $1',
      [userId],
    );
    return Number(res.rows[0]?.max ?? 0);
  }

  /** Messages of completed turns with afterSeq < seq < beforeSeq, the newest `limit`, oldest first. */
  async conversation(
    userId: string,
    opts: { afterSeq: number; beforeSeq: number; limit: number },
  ): Promise<{ turnId: string; seq: number; role: 'user' | 'assistant'; content: string }[]> {
    const res = await this.#pool.query<{
      turn_id: string;
      seq: string;
      role: 'user' | 'assistant';
      content: string;
    }>(
      `SELECT * FROM (
         SELECT m.turn_id, m.seq, m.idx, m.role, m.content FROM messages m JOIN turns t USING (turn_id)
         WHERE m.user_id = $1 AND m.seq > $2 AND m.seq < $3 AND t.status = 'completed'
         ORDER BY m.seq DESC, m.idx DESC LIMIT $4) recent
       ORDER BY seq, idx`,
      [userId, opts.afterSeq, opts.beforeSeq, opts.limit],
    );
    return res.rows.map((r) => ({ turnId: r.turn_id, seq: Number(r.seq), role: r.role, content: r.content }));
  }

  /** Keep a rolling summary durably (idempotent per user and seq). */
  async saveSummary(userId: string, upToSeq: number, summary: string): Promise<void> {
    await this.#pool.query(
      'INSERT INTO summaries (user_id, up_to_seq, summary) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
      [userId, upToSeq, summary],
    );
  }

  /** The newest summary covering turns before `beforeSeq`. */
  async latestSummary(
    userId: string,
    beforeSeq: number,
  ): Promise<{ upToSeq: number; summary: string } | null> {
    const res = await this.#pool.query<{ up_to_seq: string; summary: string }>(
      'SELECT up_to_seq, summary FROM summaries WHERE user_id = $1 AND up_to_seq < $2 ORDER BY up_to_seq DESC LIMIT 1',
      [userId, beforeSeq],
    );
    const row = res.rows[0];
    return row ? { upToSeq: Number(row.up_to_seq), summary: row.summary } : null;
  }

  async getTurn(turnId: string): Promise<TurnTranscript | null> {
    const res = await this.#pool.query<{
      turn_id: string;
      user_id: string;
      seq: string;
      thread_id: string | null;
      status: FinalStatus;
      error: string | null;
      enqueued_at: Date;
      started_at: Date | null;
      completed_at: Date;
      citations: unknown[] | null;
    }>('SELECT * FROM turns WHERE turn_id = $1', [turnId]);
    const row = res.rows[0];
    if (!row) return null;
    const msgs = await this.#pool.query<TranscriptMessage>(
      'SELECT role, content FROM messages WHERE turn_id = $1 ORDER BY idx',
      [turnId],
    );
    return {
      turnId: row.turn_id,
      userId: row.user_id,
      seq: Number(row.seq),
      ...(row.thread_id ? { threadId: row.thread_id } : {}),
      status: row.status,
      ...(row.error ? { error: row.error } : {}),
      enqueuedAt: row.enqueued_at.getTime(),
      ...(row.started_at ? { startedAt: ms(row.started_at) } : {}),
      completedAt: row.completed_at.getTime(),
      messages: msgs.rows,
      ...(row.citations ? { citations: row.citations } : {}),
    };
  }
}
