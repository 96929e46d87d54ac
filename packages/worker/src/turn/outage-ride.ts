import { sleep } from '@agent-fleet/core';
import { backoff } from '@agent-fleet/llm';
import type { Dependency, DownDependency, OutageWatch } from '../outage/outage-watch.ts';

/** How turns ride out a dependency that is away. */
export interface OutagePolicy {
  /** How long an outage is ridden out before the turn fails (TURN_OUTAGE_WINDOW_MS). */
  windowMs: number;
  /** First delay between tries while the dependency is away; it doubles (with jitter) up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
}

/** What a waiting turn tells its watchers: what it waits on, and when it tries again. */
export type WaitingOn = Dependency | 'dependency';

const AWAY: Record<Dependency, string> = {
  postgres: 'Postgres was unreachable',
  redis: 'Redis was unreachable',
  llm: 'every LLM server was down',
};

/**
 * Why a turn fails when an outage outlasted the window: which dependency was away, for how long,
 * and the error the turn last met.
 */
export function outageReason(
  down: DownDependency[],
  error: Error,
  lastedMs: number,
  windowMs: number,
): string {
  const what =
    down.length > 0 ? down.map((d) => AWAY[d.dependency]).join(' and ') : 'a dependency was unreachable';
  const s = (ms: number) => `${Math.round(ms / 1000)} s`;
  return `${what} for ${s(lastedMs)}, longer than the outage window (${s(windowMs)}): ${error.message}`;
}

/**
 * One delivery's way through outages: each outage error waits (for the dependency to come back, at
 * most a backoff delay), then the caller tries the step again; no attempt of the turn is used. The
 * window runs from the earliest of this delivery's first outage error and the moment the
 * dependency was found away, so a turn that starts during a long outage does not wait a whole
 * window again.
 */
export class OutageRide {
  readonly #watch: Pick<OutageWatch, 'check' | 'whenUp'>;
  readonly #policy: OutagePolicy;
  readonly #onWaiting: (on: WaitingOn, retryInMs: number) => void;
  readonly #now: () => number;
  #firstAt: number | undefined;
  #tries = 0;

  constructor(opts: {
    watch: Pick<OutageWatch, 'check' | 'whenUp'>;
    policy: OutagePolicy;
    onWaiting: (on: WaitingOn, retryInMs: number) => void;
    now?: () => number;
  }) {
    this.#watch = opts.watch;
    this.#policy = opts.policy;
    this.#onWaiting = opts.onWaiting;
    this.#now = opts.now ?? Date.now;
  }

  /**
   * `error` said a dependency is away. Resolves null when it is time to try again, or the reason to
   * fail the turn with when the outage has outlasted the window; rejects with `signal`'s reason when
   * it aborts while waiting (a cancellation).
   */
  async wait(error: Error, signal?: AbortSignal): Promise<string | null> {
    const now = this.#now();
    this.#firstAt ??= now;
    const down = await this.#watch.check();
    const lasted = now - Math.min(this.#firstAt, ...down.map((d) => d.since));
    const { windowMs, baseDelayMs, maxDelayMs } = this.#policy;
    if (lasted >= windowMs) return outageReason(down, error, lasted, windowMs);
    this.#tries++;
    const delay = Math.min(windowMs - lasted, baseDelayMs + backoff(this.#tries, baseDelayMs, maxDelayMs));
    this.#onWaiting(down[0]?.dependency ?? 'dependency', Math.round(delay));
    if (down.length > 0) await this.#watch.whenUp(delay, signal);
    else await sleep(delay, signal);
    signal?.throwIfAborted();
    return null;
  }
}
