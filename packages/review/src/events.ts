import { type RedisPlace, RedisStore, reviewKeys } from '@agent-fleet/core';
import type { Usage } from './finding.ts';
import type { DocumentOutcome, ReviewStatus } from './statuses.ts';
import type { RunProgress } from './store.ts';

/** What a run tells its watchers (`GET /v1/reviews/:id/events`), in order. */
export type ReviewEvent =
  | { type: 'status'; status: ReviewStatus; generation: number }
  /** A document was settled; the run's counts after it. */
  | {
      type: 'progress';
      docId: string;
      outcome: DocumentOutcome;
      documents: RunProgress['documents'];
      verdicts: RunProgress['verdicts'];
      tokens: Usage;
    };

/**
 * What follows Redis streams live, calling back with new entries after a position until stopped:
 * the gateway's shared `StreamReader` (of @agent-fleet/turns, one blocking connection for all), or
 * its `StreamPoller` on a Redis Cluster.
 */
export interface StreamFollower {
  follow(
    key: string,
    afterId: string,
    onEntries: (entries: [id: string, fields: string[]][]) => void,
  ): () => void;
}

/** What `tail` yields: the next event, or a tick after `keepAliveMs` without one. */
export type ReviewTailItem = ({ kind: 'event' } & StoredReviewEvent) | { kind: 'keep-alive' };

export interface StoredReviewEvent {
  /** The Redis stream id: what a client sends back as Last-Event-ID to resume. */
  id: string;
  event: ReviewEvent;
}

const MAX_EVENTS = 20_000;
const TTL_SECONDS = 7 * 24 * 3600;

/**
 * A run's events as a Redis stream in the run's own slot: workers and the gateway append, any
 * gateway reads from any point (resumable with Last-Event-ID). The stream keeps the latest 20,000
 * events and expires a week after the last one; the durable state is Postgres, so a lost event
 * loses no result (a watcher that reconnects gets the current counts first).
 */
export class ReviewEvents extends RedisStore {
  readonly #follower: StreamFollower | undefined;

  /** `follower` is needed to `tail`; publishing and reading need only `redis`. */
  constructor(opts: RedisPlace & { follower?: StreamFollower }) {
    super(opts);
    this.#follower = opts.follower;
  }

  async publish(runId: string, event: ReviewEvent): Promise<void> {
    const key = reviewKeys(this.namespace, runId).events;
    await Promise.all([
      this.redis.xadd(key, 'MAXLEN', '~', MAX_EVENTS, '*', 'e', JSON.stringify(event)),
      this.redis.expire(key, TTL_SECONDS),
    ]);
  }

  /** Events after `afterId` ('0' for all), at most `count`. */
  async read(runId: string, afterId: string, count = 500): Promise<StoredReviewEvent[]> {
    const key = reviewKeys(this.namespace, runId).events;
    const res = await this.redis.xread('COUNT', count, 'STREAMS', key, afterId);
    return (res?.[0]?.[1] ?? []).map(toStored);
  }

  /** The id of the last event, or '0' when there is none yet. */
  async last(runId: string): Promise<string> {
    const [entry] = await this.redis.xrevrange(
      reviewKeys(this.namespace, runId).events,
      '+',
      '-',
      'COUNT',
      1,
    );
    return entry?.[0] ?? '0';
  }

  /**
   * The run's events after `after`, in order, live, until `signal` aborts; while nothing happens it
   * yields a `keep-alive` every `keepAliveMs`. Events already there come at once, then the shared
   * follower hands over new ones.
   */
  async *tail(
    runId: string,
    opts: { after: string; signal: AbortSignal; keepAliveMs: number },
  ): AsyncGenerator<ReviewTailItem, void, undefined> {
    const follower = this.#follower;
    if (!follower) throw new Error('ReviewEvents.tail needs a stream follower');
    let last = opts.after;
    for (let batch = await this.read(runId, last); ; batch = await this.read(runId, last)) {
      for (const e of batch) {
        yield { kind: 'event', ...e };
        last = e.id;
      }
      if (batch.length < 500 || opts.signal.aborted) break;
    }
    const pending: StoredReviewEvent[] = [];
    let wake: (() => void) | undefined;
    const stop = follower.follow(reviewKeys(this.namespace, runId).events, last, (entries) => {
      pending.push(...entries.map(toStored));
      wake?.();
    });
    const onAbort = () => wake?.();
    opts.signal.addEventListener('abort', onAbort, { once: true });
    try {
      while (!opts.signal.aborted) {
        if (pending.length === 0) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, opts.keepAliveMs);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wake = undefined;
        }
        if (opts.signal.aborted) return;
        if (pending.length === 0) yield { kind: 'keep-alive' };
        for (const e of pending.splice(0)) yield { kind: 'event', ...e };
      }
    } finally {
      stop();
      opts.signal.removeEventListener('abort', onAbort);
    }
  }
}

const toStored = ([id, fields]: [string, string[]]): StoredReviewEvent => ({
  id,
  event: JSON.parse(fields[1]!) as ReviewEvent,
});
