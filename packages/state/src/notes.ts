import type { Pool } from 'pg';

export interface Note {
  id: number;
  text: string;
  turnId: string;
  createdAt: string;
}

/**
 * An agent's long-term notes about its user, in Postgres. Saving is idempotent per tool call
 * (turnId + callId), so a turn replayed after a crash never writes a note twice.
 */
export class NoteStore {
  readonly #pool: Pool;

  constructor(opts: { pool: Pool }) {
    this.#pool = opts.pool;
  }

  async save(userId: string, turnId: string, callId: string, text: string): Promise<Note> {
    const res = await this.#pool.query<{ id: string; text: string; turn_id: string; created_at: Date }>(
      `WITH ins AS (
         INSERT INTO notes (user_id, turn_id, call_id, text) VALUES ($1, $2, $3, $4)
         ON CONFLICT (turn_id, call_id) DO NOTHING RETURNING id, text, turn_id, created_at)
       SELECT * FROM ins
       UNION ALL SELECT id, text, turn_id, created_at FROM notes WHERE turn_id = $2 AND call_id = $3
       LIMIT 1`,
      [userId, turnId, callId, text],
    );
    const r = res.rows[0]!;
    return { id: Number(r.id), text: r.text, turnId: r.turn_id, createdAt: r.created_at.toISOString() };
  }

  /** The user's notes, newest first; with `query`, those containing all its words (case-insensitive). */
  async recall(userId: string, opts: { query?: string; limit?: number } = {}): Promise<Note[]> {
    const words = (opts.query ?? '')
      .toLowerCase()
      .split(/\W+/)
      .filter((w) => w.length > 1)
      .slice(0, 10);
    const res = await this.#pool.query<{ id: string; text: string; turn_id: string; created_at: Date }>(
      `SELECT id, text, turn_id, created_at FROM notes
       WHERE user_id = $1 AND (cardinality($2::text[]) = 0 OR
         (SELECT bool_and(position(w IN lower(text)) > 0) FROM unnest($2::text[]) AS w))
       ORDER BY id DESC LIMIT $3`,
      [userId, words, opts.limit ?? 10],
    );
    return res.rows.map((r) => ({
      id: Number(r.id),
      text: r.text,
      turnId: r.turn_id,
      createdAt: r.created_at.toISOString(),
    }));
  }
}
