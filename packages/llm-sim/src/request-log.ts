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
}

/** The most recent chat requests, oldest first, so tests can check what a client actually sent. */
export class RequestLog {
  readonly #max: number;
  #entries: LoggedRequest[] = [];

  constructor(max = 1000) {
    this.#max = max;
  }

  record(entry: LoggedRequest): void {
    this.#entries.push(entry);
    if (this.#entries.length > this.#max) this.#entries.splice(0, this.#entries.length - this.#max);
  }

  /** The requests kept, of `user` only when given; copies that later requests do not change. */
  list(user?: string): LoggedRequest[] {
    const kept = user === undefined ? this.#entries : this.#entries.filter((e) => e.user === user);
    return structuredClone(kept);
  }

  clear(): void {
    this.#entries = [];
  }
}
