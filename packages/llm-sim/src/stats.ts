/** Tokens the simulator reported in the `usage` of the answers it completed. */
export interface ReportedUsage {
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  /** Answers that carried this usage (a completed chat, completion or embeddings request). */
  requests: number;
}

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
  /**
   * The usage of every answer the simulator completed, as it reported it (a stream cut or aborted
   * mid-way reports none), in all and per user (body `user`, else `x-user-id`): the ground truth a
   * client's accounting is compared against.
   */
  usage: { total: ReportedUsage; byUser: Record<string, ReportedUsage> };
}

const noUsage = (): ReportedUsage => ({ promptTokens: 0, completionTokens: 0, cachedTokens: 0, requests: 0 });

function addUsage(into: ReportedUsage, u: Omit<ReportedUsage, 'requests'>): void {
  into.promptTokens += u.promptTokens;
  into.completionTokens += u.completionTokens;
  into.cachedTokens += u.cachedTokens;
  into.requests += 1;
}

/** Mutable request counters; `snapshot()` returns a copy that later requests do not change. */
export class StatsRecorder {
  #requests = 0;
  #failures = 0;
  #rateLimited = 0;
  #hangs = 0;
  #droppedStreams = 0;
  #byUser = new Map<string, number>();
  #usage = noUsage();
  #usageByUser = new Map<string, ReportedUsage>();

  recordRequest(user: string | undefined): void {
    this.#requests++;
    if (user !== undefined) this.#byUser.set(user, (this.#byUser.get(user) ?? 0) + 1);
  }

  /** An answer completed with `usage` in it (OpenAI's field names, as sent). */
  recordUsage(
    user: string | undefined,
    usage: {
      prompt_tokens: number;
      completion_tokens: number;
      prompt_tokens_details?: { cached_tokens: number } | null;
    },
  ): void {
    const u = {
      promptTokens: usage.prompt_tokens,
      completionTokens: usage.completion_tokens,
      cachedTokens: usage.prompt_tokens_details?.cached_tokens ?? 0,
    };
    addUsage(this.#usage, u);
    if (user === undefined) return;
    const mine = this.#usageByUser.get(user) ?? noUsage();
    addUsage(mine, u);
    this.#usageByUser.set(user, mine);
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
    this.#usage = noUsage();
    this.#usageByUser.clear();
  }

  snapshot(): SimStats {
    return {
      requests: this.#requests,
      failures: this.#failures,
      rateLimited: this.#rateLimited,
      hangs: this.#hangs,
      droppedStreams: this.#droppedStreams,
      byUser: Object.fromEntries(this.#byUser),
      usage: {
        total: { ...this.#usage },
        byUser: Object.fromEntries([...this.#usageByUser].map(([user, u]) => [user, { ...u }])),
      },
    };
  }
}
