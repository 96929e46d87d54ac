import { errorChain } from './error-chain.ts';
import { FleetError } from './errors.ts';

/** Socket-level failures: the server is not there, or the connection to it broke. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * PostgreSQL SQLSTATEs that mean "not now" rather than "not this": connection exceptions (class
 * 08), the server shutting down or starting (57P01-57P03), too many connections (53300).
 */
const PG_UNAVAILABLE = /^(08...|57P0[123]|53300)$/;

/** Messages of ioredis and pg that say the connection is gone or cannot be made. */
const CONNECTION_MESSAGES = [
  // ioredis: closed, reconnecting with no offline queue, retries per request used up.
  /^Connection is closed/,
  /^Stream isn't writeable/,
  /^Reached the max retries per request limit/,
  // Redis replies while it cannot serve: loading its data, failing over, out of memory (noeviction).
  /^(LOADING|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|BUSY|OOM) /,
  // ioredis Cluster: a slot's master unreachable through every retry (a failover under way), no
  // node reachable, or the client not connected yet.
  /^Too many Cluster redirections/,
  /^None of startup nodes is available/,
  /^Failed to refresh slots cache/,
  /^Cluster isn't ready/,
  /^Cluster is ended/,
  // pg and pg-pool.
  /^Connection terminated/,
  /^timeout exceeded when trying to connect/,
  /^Client has encountered a connection error/,
  /^Cannot use a pool after calling end/,
];

function saysUnreachable(err: { code?: unknown; message?: unknown }): boolean {
  const code = typeof err.code === 'string' ? err.code : '';
  if (NETWORK_CODES.has(code) || PG_UNAVAILABLE.test(code)) return true;
  const message = typeof err.message === 'string' ? err.message : '';
  return CONNECTION_MESSAGES.some((m) => m.test(message));
}

/** Seconds a caller is asked to wait (Retry-After) when a dependency is away. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

/**
 * The `unavailable` error (503, retryable) for an error saying that Redis or Postgres cannot be
 * reached right now (refused, reset, closed, timed out, loading, shutting down), looking through
 * `cause` and an AggregateError's `errors`; null for any other error, which stays what it is. The
 * one place connection failures are told apart, so every caller answers "try again later" for them
 * and keeps 500 for real faults.
 */
export function asUnavailable(err: unknown): FleetError | null {
  for (const e of errorChain(err)) {
    if (e instanceof FleetError) return e.code === 'unavailable' ? e : null;
    if (saysUnreachable(e as { code?: unknown; message?: unknown })) {
      return new FleetError(
        'unavailable',
        'a service the fleet depends on cannot be reached; try again shortly',
        {
          cause: err,
          details: { retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS },
        },
      );
    }
  }
  return null;
}
