/** What the simulator received in one valid chat request, as `GET /sim/requests` lists it. */
export interface LoggedRequest {
  /** Body `user`, else the `x-user-id` header; null when the request had neither. */
  user: string | null;
  /** The `model` field as sent; null when the request left it out. */
  model: string | null;
  temperature: number | null;
  /** Names of the function tools offered, in the order sent. */
  tools: string[];
  stream: boolean;
  priority: number;
  /** The json_schema name or `json_object` the output was asked to follow; null for free text. */
  responseFormat: string | null;
}

/**
 * The most recent chat requests, oldest first, so tests can check what a client actually sent. The
 * text of each request's messages is kept to search (`contains`), never listed.
 */
export class RequestLog {
  readonly #max: number;
  #entries: { entry: LoggedRequest; text: string }[] = [];

  constructor(max = 1000) {
    this.#max = max;
  }

  record(entry: LoggedRequest, text = ''): void {
    this.#entries.push({ entry, text });
    if (this.#entries.length > this.#max) this.#entries.splice(0, this.#entries.length - this.#max);
  }

  /**
   * The requests kept, of `user` only and whose messages contain `contains` only, when given; copies
   * that later requests do not change.
   */
  list(user?: string, contains?: string): LoggedRequest[] {
    const kept = this.#entries.filter(
      (e) =>
        (user === undefined || e.entry.user === user) &&
        (contains === undefined || e.text.includes(contains)),
    );
    return structuredClone(kept.map((e) => e.entry));
  }

  clear(): void {
    this.#entries = [];
  }
}
