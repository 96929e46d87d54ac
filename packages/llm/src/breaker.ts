export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** How long an open circuit refuses requests before it lets one probe through. */
  cooldownMs: number;
}

/**
 * A per-server circuit breaker: after `failureThreshold` failures in a row the server gets no
 * traffic for `cooldownMs`; then one probe request is let through, and its outcome closes the
 * circuit again or reopens it for another cooldown.
 */
export class CircuitBreaker {
  readonly #opts: BreakerOptions;
  readonly #now: () => number;
  #state: BreakerState = 'closed';
  #failures = 0;
  #openedAt = 0;
  #probing = false;

  constructor(opts: BreakerOptions, now: () => number = Date.now) {
    this.#opts = opts;
    this.#now = now;
  }

  get state(): BreakerState {
    if (this.#state === 'open' && this.#now() - this.#openedAt >= this.#opts.cooldownMs) return 'half-open';
    return this.#state;
  }

  /** May a request go to this server now? */
  canRequest(): boolean {
    const s = this.state;
    if (s === 'closed') return true;
    if (s === 'half-open') return !this.#probing;
    return false;
  }

  /** Call when a request is sent; in half-open state it becomes the one probe. */
  onRequest(): void {
    if (this.state === 'half-open') {
      this.#state = 'half-open';
      this.#probing = true;
    }
  }

  onSuccess(): void {
    this.#state = 'closed';
    this.#failures = 0;
    this.#probing = false;
  }

  onFailure(): void {
    this.#failures++;
    if (this.#state === 'half-open' || this.#probing || this.#failures >= this.#opts.failureThreshold) {
      this.#state = 'open';
      this.#openedAt = this.#now();
      this.#probing = false;
    }
  }

  /** Open now, e.g. when a health check finds the server down. */
  trip(): void {
    this.#state = 'open';
    this.#openedAt = this.#now();
    this.#probing = false;
  }
}
