import { type ErrorCode, FleetError, isRetryableStatus, type Logger, sleep } from '@agent-fleet/core';
import OpenAI from 'openai';
import { type Admission, type AttemptOutcome, tellWaiting, type UpstreamServer } from './admission.ts';
import type { PoolMetrics } from './pool-metrics.ts';
import type { PoolCall } from './types.ts';

/** How often and how patiently every pool call (chat, stream, embeddings) tries again. */
export interface RetryPolicy {
  /** Attempts per call, across servers. */
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
}

/**
 * One attempt of a call on one server: a plain answer (a promise), or a generator that yields what
 * it delivers as it goes (stream deltas) and returns the call's result.
 */
export type Attempt<E, T> = (
  server: UpstreamServer,
  attempt: number,
) => Promise<T> | AsyncGenerator<E, T, undefined>;

/** Told to a consumer when a failed attempt had already delivered events: drop them, they come again. */
export interface RestartEvent {
  type: 'restart';
  reason: string;
}

export interface RetryLoopDeps {
  admission: Admission;
  policy: RetryPolicy;
  metrics: PoolMetrics;
  logger?: Logger | undefined;
}

/** What a failed attempt means for the call and for its server. */
export interface Verdict {
  /** The caller's own signal fired: stop, and rethrow the caller's reason. */
  cancelled: boolean;
  /** Another attempt may succeed (429, 5xx, network, a cut or empty answer); other 4xx never. */
  retryable: boolean;
  outcome: AttemptOutcome;
}

/** The one classification of attempt failures used by every pool call. */
export function classify(err: unknown, callerSignal: AbortSignal | undefined): Verdict {
  if (callerSignal?.aborted) return { cancelled: true, retryable: false, outcome: 'no-verdict' };
  const status = upstreamStatus(err);
  const retryable = err instanceof FleetError ? err.isRetryable : isRetryableStatus(status);
  // A 4xx other than 429 is about the request, not the server's health.
  const serverFault = status === undefined || status === 429 || status >= 500;
  return { cancelled: false, retryable, outcome: serverFault ? 'server-fault' : 'no-verdict' };
}

/**
 * The one retry loop of the pool. Each attempt takes a slot (admission), runs, and releases the slot
 * with what it says about the server; a retryable failure is tried again after full-jitter backoff,
 * on a server this call has not failed on when one can take it, up to `maxAttempts`. If a failed
 * attempt had delivered events, a `restart` event goes out before the next attempt. Ends with the
 * attempt's result, the caller's abort reason, an admission error (`unavailable` when no server is
 * healthy, queue timeout) or the last failure as a `FleetError`. Stopping the iteration (a consumer
 * that breaks out) cancels the attempt in flight and frees its slot.
 */
export async function* retryLoop<E, T>(
  deps: RetryLoopDeps,
  call: PoolCall,
  attempt: Attempt<E, T>,
): AsyncGenerator<E | RestartEvent, T, undefined> {
  const tried = new Set<number>();
  for (let n = 1; ; n++) {
    const lease = await deps.admission.acquire(call, tried, n);
    const started = performance.now();
    let delivered = false;
    let outcome: AttemptOutcome = 'no-verdict';
    let label: 'ok' | 'retry' | 'error' | 'cancelled' = 'cancelled';
    let failure: { err: unknown; verdict: Verdict } | undefined;
    try {
      const run = attempt(lease.server, n);
      const result =
        run instanceof Promise
          ? await run
          : yield* observed(run, () => {
              delivered = true;
            });
      outcome = 'ok';
      label = 'ok';
      return result;
    } catch (err) {
      const verdict = classify(err, call.signal);
      failure = { err, verdict };
      outcome = verdict.outcome;
      label = verdict.cancelled
        ? 'cancelled'
        : verdict.retryable && n < deps.policy.maxAttempts
          ? 'retry'
          : 'error';
    } finally {
      deps.metrics.duration.observe({ server: lease.server.url }, (performance.now() - started) / 1000);
      deps.metrics.requests.inc({ server: lease.server.url, outcome: label });
      lease.release(outcome);
    }
    const { err, verdict } = failure!;
    if (verdict.cancelled) throw call.signal?.reason ?? err;
    const reason = (err as Error)?.message ?? String(err);
    deps.logger?.warn(
      { server: lease.server.url, status: upstreamStatus(err), err: reason, retryable: label === 'retry' },
      'LLM attempt failed',
    );
    if (label === 'error') throw toFleetError(err, n);
    tried.add(lease.server.index);
    if (delivered) yield { type: 'restart', reason };
    const delayMs = backoff(n, deps.policy.backoffBaseMs, deps.policy.backoffMaxMs);
    tellWaiting(call, { type: 'retrying', attempt: n, delayMs, reason }, deps.logger);
    await sleep(delayMs, call.signal);
  }
}

/** Runs a loop that delivers nothing along the way (a plain answer) to its result. */
export async function resultOf<T>(loop: AsyncGenerator<unknown, T, undefined>): Promise<T> {
  for (;;) {
    const step = await loop.next();
    if (step.done) return step.value;
  }
}

/** Passes `inner` through, calling `onYield` per event; closing this closes `inner`. */
async function* observed<E, T>(
  inner: AsyncGenerator<E, T, undefined>,
  onYield: () => void,
): AsyncGenerator<E, T, undefined> {
  let finished = false;
  try {
    for (;;) {
      const step = await inner.next();
      if (step.done) {
        finished = true;
        return step.value;
      }
      onYield();
      yield step.value;
    }
  } finally {
    if (!finished) await inner.return(undefined as T);
  }
}

/** Full-jitter exponential backoff. */
export function backoff(attempt: number, baseMs: number, maxMs: number): number {
  return Math.random() * Math.min(maxMs, baseMs * 2 ** (attempt - 1));
}

function upstreamStatus(err: unknown): number | undefined {
  return err instanceof OpenAI.APIError ? err.status : undefined;
}

/**
 * The last failure as a `FleetError`: `timeout` when the attempt ran out of time, `unavailable` when
 * the server could not be reached, `upstream_error` for what it answered; retryable as its status says.
 */
export function toFleetError(err: unknown, attempts: number): FleetError {
  if (err instanceof FleetError) return err;
  const status = upstreamStatus(err);
  const name = (err as Error)?.name;
  const code: ErrorCode =
    err instanceof OpenAI.APIConnectionTimeoutError ||
    err instanceof OpenAI.APIUserAbortError ||
    name === 'TimeoutError' ||
    name === 'AbortError'
      ? 'timeout'
      : err instanceof OpenAI.APIConnectionError
        ? 'unavailable'
        : 'upstream_error';
  return new FleetError(
    code,
    `LLM request failed after ${attempts} attempt(s)${status ? ` (last: HTTP ${status})` : ''}: ${(err as Error)?.message}`,
    { cause: err, retryable: isRetryableStatus(status), ...(status ? { details: { status } } : {}) },
  );
}
