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
  /** Opened by a failed health check rather than by failing requests. */
  #tripped = false;

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
    this.#tripped = false;
  }

  onFailure(): void {
    this.#failures++;
    if (this.#state === 'half-open' || this.#probing || this.#failures >= this.#opts.failureThreshold) {
      this.#state = 'open';
      this.#openedAt = this.#now();
      this.#probing = false;
      this.#tripped = false;
    }
  }

  /**
   * A request ended without a verdict on the server (its caller cancelled it, or it was refused as
   * invalid): if it was the probe, the next request may probe instead.
   */
  onNoVerdict(): void {
    this.#probing = false;
  }

  /** Open now, e.g. when a health check finds the server down. */
  trip(): void {
    this.#state = 'open';
    this.#openedAt = this.#now();
    this.#probing = false;
    this.#tripped = true;
  }

  /**
   * The server passed a health check: a circuit that a failed health check opened lets its probe
   * through now instead of after the cooldown, so a server that comes back takes traffic within one
   * health-check period. A circuit opened by failing requests keeps its cooldown (a server can
   * answer `/health` and still fail every request).
   */
  onHealthy(): void {
    if (this.#tripped && this.state === 'open') {
      this.#state = 'half-open';
      this.#tripped = false;
    }
  }

  /** Milliseconds until an open circuit lets a probe through; 0 when it is not open. */
  msUntilProbe(): number {
    if (this.state !== 'open') return 0;
    return Math.max(0, this.#opts.cooldownMs - (this.#now() - this.#openedAt));
  }
}
