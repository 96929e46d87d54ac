import { reviewKeys } from '@agent-fleet/core';
import type { Redis } from 'ioredis';
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
export class ReviewEvents {
  readonly #redis: Redis;
  readonly #namespace: string;

  constructor(opts: { redis: Redis; namespace: string }) {
    this.#redis = opts.redis;
    this.#namespace = opts.namespace;
  }

  async publish(runId: string, event: ReviewEvent): Promise<void> {
    const key = reviewKeys(this.#namespace, runId).events;
    await Promise.all([
      this.#redis.xadd(key, 'MAXLEN', '~', MAX_EVENTS, '*', 'e', JSON.stringify(event)),
      this.#redis.expire(key, TTL_SECONDS),
    ]);
  }

  /**
   * Events after `afterId` ('0' for all). With `blockMs`, waits that long for the first new one;
   * pass a connection of its own for blocking reads (XREAD BLOCK holds it).
   */
  async read(
    runId: string,
    afterId: string,
    opts: { blockMs?: number; count?: number; redis?: Redis } = {},
  ): Promise<StoredReviewEvent[]> {
    const key = reviewKeys(this.#namespace, runId).events;
    const redis = opts.redis ?? this.#redis;
    const count = opts.count ?? 500;
    const res =
      opts.blockMs !== undefined
        ? await redis.xread('COUNT', count, 'BLOCK', opts.blockMs, 'STREAMS', key, afterId)
        : await redis.xread('COUNT', count, 'STREAMS', key, afterId);
    const entries = res?.[0]?.[1] ?? [];
    return entries.map(([id, fields]) => ({ id, event: JSON.parse(fields[1]!) as ReviewEvent }));
  }
}
