import { FleetError } from '@agent-fleet/core';
import { FleetApiError } from './errors.ts';
import { ReviewsApi } from './reviews.ts';
import type {
  DocumentResult,
  DocumentUpload,
  HistoryPage,
  Profile,
  ProfileInput,
  SentTurn,
  TurnEvent,
  TurnRecord,
  WaitOptions,
} from './types.ts';
import { waitForFinal, watchTurn } from './watch.ts';

export interface FleetHttpClientOptions {
  /** The gateway, e.g. `http://localhost:8080`. */
  baseUrl: string;
  /** A service API key (`fk_...`). */
  apiKey?: string;
  /** A user's JWT (its `sub` is the userId). */
  token?: string;
  /** A fetch of your own (proxies, tests); default the global one. */
  fetch?: typeof fetch;
  /** Per request; default 30 s. */
  timeoutMs?: number;
}

export interface SendMessageInput {
  text: string;
  threadId?: string;
  idempotencyKey?: string;
}

const seg = (s: string) => encodeURIComponent(s);

/**
 * The gateway's HTTP API, typed. Every non-2xx answer becomes a `FleetApiError` carrying the
 * gateway's `{ error: { code, message, details } }`, the status and `Retry-After`; a network failure
 * becomes a retryable `FleetError('unavailable')`.
 */
export class FleetHttpClient {
  readonly baseUrl: string;
  /** Review runs: create, get, report, stream, cancel, resume, and their schedules. */
  readonly reviews: ReviewsApi;
  readonly #fetchImpl: typeof fetch;
  readonly #auth: string | undefined;
  readonly #timeoutMs: number;

  constructor(opts: FleetHttpClientOptions) {
    if (opts.apiKey && opts.token) throw new FleetError('invalid_request', 'give apiKey or token, not both');
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.#fetchImpl = opts.fetch ?? globalThis.fetch;
    const credential = opts.apiKey ?? opts.token;
    this.#auth = credential ? `Bearer ${credential}` : undefined;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.reviews = new ReviewsApi({
      json: (method, path, body) => this.#json(method, path, body),
      send: (method, path, form) => this.#request(method, path, form, {}),
      raw: (method, path, o) =>
        this.#fetch(method, path, {
          headers: { accept: o.accept, ...o.headers },
          timeout: o.timeout !== false,
          ...(o.signal ? { signal: o.signal } : {}),
        }),
    });
  }

  /** `POST /v1/users/:userId/messages`: the user's next turn; `created` is false on a replay. */
  async sendMessage(userId: string, input: SendMessageInput): Promise<SentTurn> {
    const body = await this.#json<{ turnId: string; seq: number; replayed: boolean }>(
      'POST',
      `/v1/users/${seg(userId)}/messages`,
      { text: input.text, ...(input.threadId ? { threadId: input.threadId } : {}) },
      input.idempotencyKey ? { 'idempotency-key': input.idempotencyKey } : {},
    );
    return { turnId: body.turnId, seq: body.seq, created: !body.replayed };
  }

  /** `GET /v1/turns/:turnId`, or null when the gateway knows no such turn. */
  async getTurn(turnId: string): Promise<TurnRecord | null> {
    try {
      return await this.#json<TurnRecord>('GET', `/v1/turns/${seg(turnId)}`);
    } catch (err) {
      if (err instanceof FleetApiError && err.httpStatus === 404) return null;
      throw err;
    }
  }

  /** Resolves with the turn once it has ended (check `status`): completed, failed, cancelled, interrupted. */
  waitForTurn(turnId: string, opts?: WaitOptions): Promise<TurnRecord> {
    return waitForFinal((id) => this.getTurn(id), turnId, { pollMs: { initial: 100, max: 1000 }, ...opts });
  }

  /** The turn's status changes until it has ended. */
  streamTurn(turnId: string, opts?: WaitOptions): AsyncIterable<TurnEvent> {
    return watchTurn((id) => this.getTurn(id), turnId, { pollMs: { initial: 100, max: 1000 }, ...opts });
  }

  /** `GET /v1/users/:userId/history`: messages in acceptance order. */
  history(userId: string, page: { limit?: number; afterSeq?: number } = {}): Promise<HistoryPage> {
    const q = new URLSearchParams();
    if (page.limit !== undefined) q.set('limit', String(page.limit));
    if (page.afterSeq !== undefined) q.set('afterSeq', String(page.afterSeq));
    const qs = q.size > 0 ? `?${q}` : '';
    return this.#json('GET', `/v1/users/${seg(userId)}/history${qs}`);
  }

  /** `PUT /v1/users/:userId/profile`: tenant and groups retrieval is filtered by (needs `admin`). */
  putProfile(userId: string, profile: ProfileInput): Promise<Profile> {
    return this.#json('PUT', `/v1/users/${seg(userId)}/profile`, profile);
  }

  /** `GET /v1/users/:userId/profile`, or null when the user has none. */
  async getProfile(userId: string): Promise<Profile | null> {
    try {
      return await this.#json<Profile>('GET', `/v1/users/${seg(userId)}/profile`);
    } catch (err) {
      if (err instanceof FleetApiError && err.httpStatus === 404) return null;
      throw err;
    }
  }

  /** `POST /v1/documents`: as JSON when given `text`, as a multipart upload when given a `file`. */
  uploadDocument(doc: DocumentUpload): Promise<DocumentResult> {
    if ('text' in doc) return this.#json('POST', '/v1/documents', doc);
    const form = new FormData();
    form.set('tenant', doc.tenant);
    if (doc.title) form.set('title', doc.title);
    if (doc.docId) form.set('docId', doc.docId);
    if (doc.public !== undefined) form.set('public', String(doc.public));
    for (const group of doc.acl ?? []) form.append('acl', group);
    const blob =
      doc.file instanceof Blob
        ? doc.file
        : new Blob([doc.file as Uint8Array<ArrayBuffer>], doc.mime ? { type: doc.mime } : {});
    form.set('file', blob, doc.filename);
    return this.#request('POST', '/v1/documents', form, {});
  }

  /** `DELETE /v1/documents/:docId?tenant=`: idempotent; `deleted` says whether it was there. */
  deleteDocument(
    tenant: string,
    docId: string,
  ): Promise<{ docId: string; tenant: string; deleted: boolean }> {
    return this.#json('DELETE', `/v1/documents/${seg(docId)}?tenant=${seg(tenant)}`);
  }

  #json<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    return this.#request<T>(
      method,
      path,
      body === undefined ? undefined : JSON.stringify(body),
      body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    );
  }

  async #request<T>(
    method: string,
    path: string,
    body: string | FormData | undefined,
    headers: Record<string, string>,
  ): Promise<T> {
    const res = await this.#fetch(method, path, {
      headers: { accept: 'application/json', ...headers },
      timeout: true,
      ...(body === undefined ? {} : { body }),
    });
    return (await res.json()) as T;
  }

  /**
   * One request with the credential; a non-2xx answer throws its `FleetApiError`, a network failure
   * a retryable `FleetError`. `timeout` bounds the whole exchange by the client's timeout (off for
   * event streams, which the caller's signal ends).
   */
  async #fetch(
    method: string,
    path: string,
    opts: {
      headers: Record<string, string>;
      body?: string | FormData;
      timeout: boolean;
      signal?: AbortSignal;
    },
  ): Promise<Response> {
    const signals = [
      ...(opts.timeout ? [AbortSignal.timeout(this.#timeoutMs)] : []),
      ...(opts.signal ? [opts.signal] : []),
    ];
    let res: Response;
    try {
      res = await this.#fetchImpl(`${this.baseUrl}${path}`, {
        method,
        headers: { ...(this.#auth ? { authorization: this.#auth } : {}), ...opts.headers },
        ...(opts.body === undefined ? {} : { body: opts.body }),
        ...(signals.length > 0 ? { signal: AbortSignal.any(signals) } : {}),
      });
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      const timedOut = (err as Error).name === 'TimeoutError';
      throw new FleetError(
        timedOut ? 'timeout' : 'unavailable',
        `${method} ${path}: ${timedOut ? `no answer in ${this.#timeoutMs} ms` : (err as Error).message}`,
        { cause: err },
      );
    }
    if (!res.ok) throw await FleetApiError.fromResponse(res);
    return res;
  }
}
