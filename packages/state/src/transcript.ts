import type { Pool } from 'pg';

export interface TranscriptMessage {
  role: 'user' | 'assistant';
  content: string;
}

export interface TurnTranscript {
  turnId: string;
  userId: string;
  seq: number;
  threadId?: string;
  status: 'completed' | 'failed';
  error?: string;
  enqueuedAt: number;
  startedAt?: number;
  completedAt: number;
  messages: TranscriptMessage[];
}

export interface HistoryEntry {
  turnId: string;
  seq: number;
  role: 'user' | 'assistant';
  content: string;
  createdAt: string;
}

const ms = (v: Date | null): number | undefined => (v ? v.getTime() : undefined);

/**
 * The durable transcript in Postgres: append-only, one row per turn (unique on turnId) and its
 * messages written in the same statement, so a redelivered turn is recorded exactly once.
 */
export class Transcript {
  readonly #pool: Pool;

  constructor(opts: { pool: Pool }) {
    this.#pool = opts.pool;
  }

  /** Returns false when the turn was already recorded. */
  async record(t: TurnTranscript): Promise<boolean> {
    const res = await this.#pool.query(
      `WITH t AS (
         INSERT INTO turns (turn_id, user_id, seq, thread_id, status, error, enqueued_at, started_at, completed_at)
         VALUES ($1, $2, $3, $4, $5, $6, to_timestamp($7::float8 / 1000), to_timestamp($8::float8 / 1000),
                 to_timestamp($9::float8 / 1000))
         ON CONFLICT (turn_id) DO NOTHING
         RETURNING turn_id)
       INSERT INTO messages (turn_id, user_id, seq, idx, role, content)
       SELECT t.turn_id, $2, $3, m.idx, m.role, m.content
       FROM t, unnest($10::smallint[], $11::text[], $12::text[]) AS m(idx, role, content)`,
      [
        t.turnId,
        t.userId,
        t.seq,
        t.threadId ?? null,
        t.status,
        t.error ?? null,
        t.enqueuedAt,
        t.startedAt ?? null,
        t.completedAt,
        t.messages.map((_, i) => i),
        t.messages.map((m) => m.role),
        t.messages.map((m) => m.content),
      ],
    );
    return (res.rowCount ?? 0) > 0;
  }

  /** A user's messages in acceptance order, `limit` at a time after `afterSeq`. */
  async history(userId: string, opts: { afterSeq?: number; limit?: number } = {}): Promise<HistoryEntry[]> {
    const res = await this.#pool.query<{
      turn_id: string;
      seq: string;
      role: 'user' | 'assistant';
      content: string;
      created_at: Date;
    }>(
      `SELECT turn_id, seq, role, content, created_at FROM messages
       WHERE user_id = $1 AND seq > $2 ORDER BY seq, idx LIMIT $3`,
      [userId, opts.afterSeq ?? 0, opts.limit ?? 1000],
    );
    return res.rows.map((r) => ({
      turnId: r.turn_id,
      seq: Number(r.seq),
      role: r.role,
      content: r.content,
      createdAt: r.created_at.toISOString(),
    }));
  }

  async getTurn(turnId: string): Promise<TurnTranscript | null> {
    const res = await this.#pool.query<{
      turn_id: string;
      user_id: string;
      seq: string;
      thread_id: string | null;
      status: 'completed' | 'failed';
      error: string | null;
      enqueued_at: Date;
      started_at: Date | null;
      completed_at: Date;
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
    };
  }
}
