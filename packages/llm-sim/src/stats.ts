/** Counters behind `GET /sim/stats`. */
export interface SimStats {
  /** Valid chat requests received (invalid bodies are not counted). */
  requests: number;
  /** Chat requests answered with a simulated failure. */
  failures: number;
  /** Valid chat requests per user (body `user`, else `x-user-id`); requests with neither are left out. */
  byUser: Record<string, number>;
}

/** Mutable request counters; `snapshot()` returns a copy that later requests do not change. */
export class StatsRecorder {
  #requests = 0;
  #failures = 0;
  #byUser = new Map<string, number>();

  recordRequest(user: string | undefined): void {
    this.#requests++;
    if (user !== undefined) this.#byUser.set(user, (this.#byUser.get(user) ?? 0) + 1);
  }

  recordFailure(): void {
    this.#failures++;
  }

  reset(): void {
    this.#requests = 0;
    this.#failures = 0;
    this.#byUser.clear();
  }

  snapshot(): SimStats {
    return { requests: this.#requests, failures: this.#failures, byUser: Object.fromEntries(this.#byUser) };
  }
}
