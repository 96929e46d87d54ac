import { errorChain } from './error-chain.ts';

/**
 * SQLSTATE classes meaning Postgres refuses the statement itself (its values, its text), so the same
 * statement fails the same way however often it is sent: 22 data exception (a NUL in text, an
 * invalid byte sequence, a value out of range), 23 integrity constraint violation, 42 syntax error
 * or access rule violation, 54 program limit exceeded (a row or an index entry too large).
 */
const REFUSED_CLASSES = new Set(['22', '23', '42', '54']);

/**
 * 23505 unique_violation: another writer stored the same key first. The fleet's inserts are
 * idempotent on their keys (ON CONFLICT DO NOTHING on turnId, (turnId, idx), ...), so trying again
 * finds the row stored and succeeds: not a refusal.
 */
const UNIQUE_VIOLATION = '23505';

/** Why Postgres refused a statement: its SQLSTATE and its message. */
export interface PostgresRefusal {
  sqlstate: string;
  message: string;
}

/**
 * The refusal in `err` (looking through `cause`) when Postgres refused the statement for what it
 * holds rather than for where the server is (see `asUnavailable` for that); null otherwise. Only
 * errors Postgres itself reported count (they carry a `severity` beside the SQLSTATE `code`).
 */
export function refusedByPostgres(err: unknown): PostgresRefusal | null {
  for (const e of errorChain(err)) {
    const { code, severity, message } = e as { code?: unknown; severity?: unknown; message?: unknown };
    if (typeof code !== 'string' || typeof severity !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) continue;
    if (code === UNIQUE_VIOLATION || !REFUSED_CLASSES.has(code.slice(0, 2))) return null;
    return { sqlstate: code, message: typeof message === 'string' ? message : code };
  }
  return null;
}
