import { errorChain } from './error-chain.ts';
import { FleetError } from './errors.ts';

/** Socket-level failures of making a connection: nothing was sent. */
const NOT_CONNECTED_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** Socket-level failures of a connection that was open: what was on it may have been applied. */
const BROKEN_CODES = new Set(['ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE']);

/**
 * PostgreSQL SQLSTATEs that mean "not now" rather than "not this": connection exceptions (class
 * 08), the server shutting down or starting (57P01-57P03), too many connections (53300). The
 * server said so: the statement did not run.
 */
const PG_UNAVAILABLE = /^(08...|57P0[123]|53300)$/;

/** Refusals by the server, or a client that never connected: the request was not applied. */
const NOT_APPLIED_MESSAGES = [
  // Redis replies while it cannot serve: loading its data, failing over, out of memory (noeviction).
  /^(LOADING|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|BUSY|OOM) /,
  // ioredis Cluster: no node reachable, or the client not connected yet.
  /^None of startup nodes is available/,
  /^Cluster isn't ready/,
  // pg-pool: no connection could be made, or the pool is closed.
  /^timeout exceeded when trying to connect/,
  /^Cannot use a pool after calling end/,
];

/**
 * A connection that broke, or a client that gave up on it. ioredis fails a command that was sent
 * and lost with its connection the same way as one never sent ("Stream isn't writeable" when it
 * cannot send it again, "max retries", "Connection is closed"), so any of these may have been
 * applied.
 */
const BROKEN_MESSAGES = [
  /^Connection is closed/,
  /^Stream isn't writeable/,
  /^Reached the max retries per request limit/,
  /^Too many Cluster redirections/,
  /^Failed to refresh slots cache/,
  /^Cluster is ended/,
  /^Connection terminated/,
  /^Client has encountered a connection error/,
];

type Failure = 'not_applied' | 'broken' | null;

function connectionFailure(err: { code?: unknown; message?: unknown }): Failure {
  const code = typeof err.code === 'string' ? err.code : '';
  const message = typeof err.message === 'string' ? err.message : '';
  if (BROKEN_CODES.has(code) || BROKEN_MESSAGES.some((m) => m.test(message))) return 'broken';
  if (NOT_CONNECTED_CODES.has(code) || PG_UNAVAILABLE.test(code)) return 'not_applied';
  return NOT_APPLIED_MESSAGES.some((m) => m.test(message)) ? 'not_applied' : null;
}

/** Seconds a caller is asked to wait (Retry-After) when a dependency is away. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

/**
 * The `unavailable` error (503, retryable, `Retry-After` in its details) caused by `cause`. With
 * `outcomeUnknown`, the connection broke with the request on it: it may have been applied
 * (`details.outcome: "unknown"`), and a retry with the same Idempotency-Key tells.
 */
export function unavailable(cause: unknown, outcomeUnknown: boolean): FleetError {
  const retryAfterSeconds = UNAVAILABLE_RETRY_AFTER_SECONDS;
  if (!outcomeUnknown) {
    return new FleetError(
      'unavailable',
      'a service the fleet depends on cannot be reached; try again shortly',
      {
        cause,
        details: { retryAfterSeconds },
      },
    );
  }
  return new FleetError(
    'unavailable',
    'a service the fleet depends on went away during the request, which may have been applied; retry with the same Idempotency-Key to learn its outcome',
    { cause, details: { retryAfterSeconds, outcome: 'unknown' } },
  );
}

/**
 * The `unavailable` error for an error saying that Redis or Postgres cannot be reached right now
 * (refused, reset, closed, timed out, loading, shutting down), looking through `cause` and an
 * AggregateError's `errors`; null for any other error, which stays what it is. The one place
 * connection failures are told apart, so every caller answers "try again later" for them and
 * keeps 500 for real faults; a broken connection's says the outcome is unknown.
 */
export function asUnavailable(err: unknown): FleetError | null {
  for (const e of errorChain(err)) {
    if (e instanceof FleetError) return e.code === 'unavailable' ? e : null;
    const failure = connectionFailure(e as { code?: unknown; message?: unknown });
    if (failure) return unavailable(err, failure === 'broken');
  }
  return null;
}
