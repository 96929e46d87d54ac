import { FleetError, sleep } from '@agent-fleet/core';
import {
  type Checklist,
  isRestingReviewStatus,
  type ReviewEvent,
  type ReviewList,
  type ReviewPriority,
  type ReviewReport,
  type ReviewScheduleList,
  type ReviewScheduleView,
  type ReviewStatusView,
  type ScheduleInput,
} from '@agent-fleet/review/api';
import { FleetApiError } from './errors.ts';
import { readSse } from './sse.ts';

/** A file to ingest into the run user's tenant as part of a run (text, Markdown, HTML or PDF). */
export interface ReviewFile {
  filename: string;
  data: Blob | Uint8Array;
  mime?: string;
}

/** `POST /v1/reviews`: what to review, against which checklist, for whom. */
export interface CreateReviewInput {
  /** Whose permissions apply: documents this user may not read are reported `not_permitted`. */
  userId: string;
  /** `{ items: [{ id, requirement, policyRef? }] }`, or the same as YAML or JSON text. */
  checklist: Checklist | string;
  /** docIds in the user's tenant. */
  documents?: string[];
  /** Instead of `documents`: the tenant's documents, those whose docId starts with `docIdPrefix`. */
  selector?: { tenant: string; docIdPrefix?: string };
  /** Files uploaded with the run (multipart; the key needs `documents:write` too). */
  files?: ReviewFile[];
  /** Who may read the uploaded files (groups), or `public`. */
  acl?: string[];
  public?: boolean;
  priority?: ReviewPriority;
  name?: string;
  /** Rerun on a cron pattern; each rerun reviews only documents whose content changed. */
  schedule?: ScheduleInput;
}

export type ReportFormat = 'json' | 'md' | 'csv' | 'html';

/**
 * What `stream` yields: first (unless resuming) a `snapshot` of the run, then each `progress` (a
 * document settled, with the run's counts after it) and `status` event, with the id to resume after.
 */
export type ReviewStreamEvent =
  | { type: 'snapshot'; review: ReviewStatusView }
  | (ReviewEvent & { id: string });

/** How the reviews API reaches the gateway: `FleetHttpClient`'s request path (errors already mapped). */
export interface ReviewTransport {
  json<T>(method: string, path: string, body?: unknown): Promise<T>;
  send<T>(method: string, path: string, body: FormData): Promise<T>;
  /** The raw response of a successful request; `timeout: false` for long-lived streams. */
  raw(
    method: string,
    path: string,
    opts: { accept: string; signal?: AbortSignal; headers?: Record<string, string>; timeout?: boolean },
  ): Promise<Response>;
}

const seg = (s: string) => encodeURIComponent(s);
const RECONNECTS = 5;

/**
 * Review runs through the gateway (`FleetHttpClient.reviews`): create, read, report, follow, cancel
 * and resume runs, and read or remove their schedules. Every route needs a key with the `reviews`
 * scope that acts for users.
 */
export class ReviewsApi {
  readonly #t: ReviewTransport;

  constructor(transport: ReviewTransport) {
    this.#t = transport;
  }

  /** Starts a run (and with `schedule`, its schedule); as JSON, or multipart when it carries files. */
  create(input: CreateReviewInput): Promise<{ reviewId: string; scheduleId?: string }> {
    if (input.files?.length && input.selector)
      throw new FleetError('invalid_request', 'files are uploaded with documents, not with a selector');
    if (!input.files?.length) {
      const { files: _files, acl: _acl, public: _public, ...body } = input;
      return this.#t.json('POST', '/v1/reviews', body);
    }
    return this.#t.send('POST', '/v1/reviews', reviewForm(input));
  }

  /** The run's status, counts, tokens and ETA; null when there is no such run (or it is not yours to see). */
  async get(reviewId: string): Promise<ReviewStatusView | null> {
    try {
      return await this.#t.json<ReviewStatusView>('GET', `/v1/reviews/${seg(reviewId)}`);
    } catch (err) {
      if (err instanceof FleetApiError && err.httpStatus === 404) return null;
      throw err;
    }
  }

  /** Runs, newest first; pass `nextBefore` as `before` for the next page. */
  list(page: { limit?: number; before?: string } = {}): Promise<ReviewList> {
    return this.#t.json('GET', `/v1/reviews${query(page)}`);
  }

  /** The report: parsed JSON by default, or the text of the Markdown, CSV or HTML report. */
  report(reviewId: string, opts?: { format?: 'json' }): Promise<ReviewReport>;
  report(reviewId: string, opts: { format: 'md' | 'csv' | 'html' }): Promise<string>;
  async report(reviewId: string, opts: { format?: ReportFormat } = {}): Promise<ReviewReport | string> {
    const format = opts.format ?? 'json';
    const res = await this.#t.raw('GET', `/v1/reviews/${seg(reviewId)}/report?format=${format}`, {
      accept: format === 'json' ? 'application/json' : '*/*',
    });
    return format === 'json' ? ((await res.json()) as ReviewReport) : res.text();
  }

  /**
   * The run's events (`GET /v1/reviews/:id/events`) until it completes, fails or is cancelled, or
   * `signal` aborts. A dropped connection is resumed after the last event received (up to five
   * times in a row, with backoff), so no event is lost or repeated.
   */
  async *stream(
    reviewId: string,
    opts: { signal?: AbortSignal; lastEventId?: string } = {},
  ): AsyncGenerator<ReviewStreamEvent, void, undefined> {
    let last = opts.lastEventId;
    for (let failures = 0; ; ) {
      let ended = false;
      try {
        for await (const e of this.#open(reviewId, last, opts.signal)) {
          failures = 0;
          if (e.type !== 'snapshot') last = e.id;
          yield e;
          ended ||= isRestingReviewStatus(
            e.type === 'snapshot' ? e.review.status : e.type === 'status' ? e.status : 'running',
          );
        }
        if (ended) return;
        if (++failures > RECONNECTS)
          throw new FleetError('unavailable', `the event stream of review ${reviewId} kept ending early`);
      } catch (err) {
        if (opts.signal?.aborted || (err instanceof FleetError && !err.isRetryable)) throw err;
        if (++failures > RECONNECTS) throw err;
      }
      // The stream ended early (a gateway going away): resume after the last event.
      await sleep(Math.min(250 * 2 ** failures, 5000), opts.signal);
      last ??= '0-0';
    }
  }

  /** Stops a queued or running run at its jobs' next step; what was recorded stays. */
  cancel(reviewId: string): Promise<ReviewStatusView> {
    return this.#t.json('POST', `/v1/reviews/${seg(reviewId)}/cancel`);
  }

  /** Starts a cancelled run's next generation over the documents not done yet. */
  resume(reviewId: string): Promise<ReviewStatusView> {
    return this.#t.json('POST', `/v1/reviews/${seg(reviewId)}/resume`);
  }

  /** The schedule the run belongs to, or null when it belongs to none. */
  async schedule(reviewId: string): Promise<ReviewScheduleView | null> {
    try {
      return await this.#t.json<ReviewScheduleView>('GET', `/v1/reviews/${seg(reviewId)}/schedule`);
    } catch (err) {
      if (err instanceof FleetApiError && err.httpStatus === 404) return null;
      throw err;
    }
  }

  /** Removes the schedule the run belongs to: no rerun starts after this. */
  removeSchedule(reviewId: string): Promise<ReviewScheduleView> {
    return this.#t.json('DELETE', `/v1/reviews/${seg(reviewId)}/schedule`);
  }

  /** Schedules, newest first; pass `nextBefore` as `before` for the next page. */
  schedules(page: { limit?: number; before?: string } = {}): Promise<ReviewScheduleList> {
    return this.#t.json('GET', `/v1/review-schedules${query(page)}`);
  }

  async *#open(reviewId: string, after: string | undefined, signal: AbortSignal | undefined) {
    const res = await this.#t.raw('GET', `/v1/reviews/${seg(reviewId)}/events`, {
      accept: 'text/event-stream',
      timeout: false,
      ...(signal ? { signal } : {}),
      ...(after ? { headers: { 'last-event-id': after } } : {}),
    });
    if (!res.body) return;
    for await (const m of readSse(res.body)) {
      const data = JSON.parse(m.data);
      if (m.event === 'snapshot') yield { type: 'snapshot' as const, review: data as ReviewStatusView };
      else if (m.id !== undefined) yield { ...(data as ReviewEvent), id: m.id };
    }
  }
}

function query(page: { limit?: number; before?: string }): string {
  const q = new URLSearchParams();
  if (page.limit !== undefined) q.set('limit', String(page.limit));
  if (page.before !== undefined) q.set('before', page.before);
  return q.size > 0 ? `?${q}` : '';
}

function reviewForm(input: CreateReviewInput): FormData {
  const form = new FormData();
  form.set('userId', input.userId);
  form.set(
    'checklist',
    typeof input.checklist === 'string' ? input.checklist : JSON.stringify(input.checklist),
  );
  for (const docId of input.documents ?? []) form.append('documents', docId);
  for (const group of input.acl ?? []) form.append('acl', group);
  if (input.public !== undefined) form.set('public', String(input.public));
  if (input.priority) form.set('priority', input.priority);
  if (input.name) form.set('name', input.name);
  if (input.schedule) form.set('schedule', JSON.stringify(input.schedule));
  for (const f of input.files ?? []) {
    const blob =
      f.data instanceof Blob
        ? f.data
        : new Blob([f.data as Uint8Array<ArrayBuffer>], f.mime ? { type: f.mime } : {});
    form.append('file', blob, f.filename);
  }
  return form;
}
