import type { RedisClient } from '@agent-fleet/core';
import { FollowedStreams, type StreamEntry, type StreamFollower } from './stream-followers.ts';

export interface StreamPollerOptions {
  /** Any connection (a cluster client included); the poller reads through it and opens none. */
  redis: RedisClient;
  /** Time between two reads of the followed streams. Default 50 ms. */
  intervalMs?: number;
  /** Entries per stream and read. Default 500. */
  count?: number;
  /** Called once per round of reads that met errors (Redis away, a failover), with the first. */
  onError?: (err: Error) => void;
}

/** After a round with errors, the next waits at least this long. */
const ERROR_PAUSE_MS = 500;

/**
 * Follows any number of Redis streams by reading each of them without blocking every `intervalMs`:
 * one XREAD per followed stream, from the oldest position its followers need, fanned out to the
 * followers in order, each from its own position. The reads of a round are sent together, without
 * waiting for each other's replies. For Redis Cluster, where `StreamReader`'s single blocking read
 * cannot work: one XREAD may name only streams of one slot (keys of different slots are refused
 * with CROSSSLOT even when one node serves them), and a blocking read per user's slot would cost
 * a connection per user. The price: up to `intervalMs` more latency per event, and one command per
 * followed stream and interval. Followers survive errors and failovers: the next round reads from
 * their positions.
 */
export class StreamPoller implements StreamFollower {
  readonly #redis: RedisClient;
  readonly #intervalMs: number;
  readonly #count: number;
  readonly #onError: (err: Error) => void;
  readonly #streams = new FollowedStreams();
  #closed = false;
  #wake: (() => void) | undefined;

  constructor(opts: StreamPollerOptions) {
    this.#redis = opts.redis;
    this.#intervalMs = opts.intervalMs ?? 50;
    this.#count = opts.count ?? 500;
    this.#onError = opts.onError ?? (() => {});
    void this.#run();
  }

  get streams(): number {
    return this.#streams.size;
  }

  follow(key: string, afterId: string, onEntries: (entries: StreamEntry[]) => void): () => void {
    const stop = this.#streams.add(key, afterId, onEntries);
    if (this.#streams.size === 1) this.#wake?.();
    return stop;
  }

  close(): void {
    this.#closed = true;
    this.#wake?.();
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      if (this.#streams.size === 0) {
        await this.#pause(Number.POSITIVE_INFINITY);
        continue;
      }
      const started = Date.now();
      const round = await this.#readAll();
      if (round.error) this.#onError(round.error);
      // A stream that filled its batch has more to read right away.
      if (round.full && !round.error) continue;
      const interval = round.error ? Math.max(this.#intervalMs, ERROR_PAUSE_MS) : this.#intervalMs;
      await this.#pause(interval - (Date.now() - started));
    }
  }

  /** One read of every followed stream; whether one of them filled its batch, and the first error. */
  async #readAll(): Promise<{ full: boolean; error: Error | undefined }> {
    let full = false;
    let error: Error | undefined;
    await Promise.all(
      this.#streams.keys().map(async (key) => {
        const from = this.#streams.oldestCursor(key);
        try {
          const res = (await this.#redis.xread('COUNT', this.#count, 'STREAMS', key, from)) as
            | [string, StreamEntry[]][]
            | null;
          const entries = res?.[0]?.[1] ?? [];
          if (entries.length >= this.#count) full = true;
          this.#streams.deliver(key, from, entries);
        } catch (err) {
          error ??= err as Error;
        }
      }),
    );
    return { full, error };
  }

  /** Waits `ms` (at most), or until closed or the first stream is followed. */
  async #pause(ms: number): Promise<void> {
    if (this.#closed || ms <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
      if (Number.isFinite(ms)) timer = setTimeout(resolve, ms);
    });
    clearTimeout(timer);
    this.#wake = undefined;
  }
}
