/** Counters behind `GET /sim/stats`. */
export interface SimStats {
  /** Valid inference requests received (chat, completions, embeddings; invalid bodies are not counted). */
  requests: number;
  /** Requests answered with a simulated HTTP 500. */
  failures: number;
  /** Requests rejected with a simulated HTTP 429. */
  rateLimited: number;
  /** Requests left hanging. */
  hangs: number;
  /** Streams cut mid-way. */
  droppedStreams: number;
  /** Valid requests per user (body `user`, else `x-user-id`); requests with neither are left out. */
  byUser: Record<string, number>;
}

/** Mutable request counters; `snapshot()` returns a copy that later requests do not change. */
export class StatsRecorder {
  #requests = 0;
  #failures = 0;
  #rateLimited = 0;
  #hangs = 0;
  #droppedStreams = 0;
  #byUser = new Map<string, number>();

  recordRequest(user: string | undefined): void {
    this.#requests++;
    if (user !== undefined) this.#byUser.set(user, (this.#byUser.get(user) ?? 0) + 1);
  }

  recordFailure(): void {
    this.#failures++;
  }

  recordRateLimited(): void {
    this.#rateLimited++;
  }

  recordHang(): void {
    this.#hangs++;
  }

  recordDroppedStream(): void {
    this.#droppedStreams++;
  }

  reset(): void {
    this.#requests = 0;
    this.#failures = 0;
    this.#rateLimited = 0;
    this.#hangs = 0;
    this.#droppedStreams = 0;
    this.#byUser.clear();
  }

  snapshot(): SimStats {
    return {
      requests: this.#requests,
      failures: this.#failures,
      rateLimited: this.#rateLimited,
      hangs: this.#hangs,
      droppedStreams: this.#droppedStreams,
      byUser: Object.fromEntries(this.#byUser),
    };
  }
}
