import type { Redis } from 'ioredis';
import { FollowedStreams, type StreamEntry, type StreamFollower } from './stream-followers.ts';

export interface StreamReaderOptions {
  /**
   * The blocking connection, the reader's own (XREAD BLOCK holds it), created with
   * `autoResendUnfulfilledCommands: false` (role `blocking`): a read cut by a reconnection is given
   * up and sent again by the reader, which then knows the new connection's id (a read resent by
   * ioredis would block the new connection where nothing can wake it).
   */
  connection: Redis;
  /** Another connection, to wake the blocking one (CLIENT UNBLOCK) when the set of streams changes. */
  control: Redis;
  /** Longest single block; changes interrupt it sooner. Default 10 s. */
  blockMs?: number;
  /** Entries per stream and read. Default 500. */
  count?: number;
  onError?: (err: Error) => void;
}

/**
 * Follows any number of Redis streams over ONE blocking connection: a single XREAD BLOCK names every
 * followed stream, each from the oldest position a follower needs, and fans what comes back out to
 * the followers, in order, each from its own position. Following a new stream wakes the read in
 * flight (CLIENT UNBLOCK) so it joins at once; unfollowing costs nothing and takes effect at once
 * (the follower is never called again). Followers survive connection losses: the read resumes from
 * their positions. Standalone Redis only: on Redis Cluster one XREAD cannot name streams of
 * different slots (see `StreamPoller`).
 */
export class StreamReader implements StreamFollower {
  readonly #conn: Redis;
  readonly #control: Redis;
  readonly #blockMs: number;
  readonly #count: number;
  readonly #onError: (err: Error) => void;
  readonly #streams = new FollowedStreams();
  #clientId: number | undefined;
  /** Set when a stream was followed after the read in flight was sent. */
  #stale = false;
  #reading = false;
  #waking = false;
  #closed = false;
  #idle: (() => void) | undefined;

  constructor(opts: StreamReaderOptions) {
    this.#conn = opts.connection;
    this.#control = opts.control;
    this.#blockMs = opts.blockMs ?? 10_000;
    this.#count = opts.count ?? 500;
    this.#onError = opts.onError ?? (() => {});
    // A new connection has a new id, asked for again before the next read.
    this.#conn.on('close', () => {
      this.#clientId = undefined;
    });
    void this.#run();
  }

  /** Streams followed right now. */
  get streams(): number {
    return this.#streams.size;
  }

  follow(key: string, afterId: string, onEntries: (entries: StreamEntry[]) => void): () => void {
    const stop = this.#streams.add(key, afterId, onEntries);
    this.#stale = true;
    this.#idle?.();
    void this.#wake();
    return stop;
  }

  /** Stops reading. The connections stay the caller's: disconnecting them ends a read in flight. */
  close(): void {
    this.#closed = true;
    this.#idle?.();
    void this.#wake();
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      if (this.#streams.size === 0) {
        await new Promise<void>((resolve) => {
          this.#idle = resolve;
        });
        this.#idle = undefined;
        continue;
      }
      try {
        this.#clientId ??= Number(await this.#untilLost(this.#conn.client('ID')));
        await this.#readOnce();
      } catch (err) {
        if (this.#closed) return;
        this.#clientId = undefined;
        this.#onError(err as Error);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  async #readOnce(): Promise<void> {
    const keys = this.#streams.keys();
    const from = keys.map((k) => this.#streams.oldestCursor(k));
    const fromOf = new Map(keys.map((k, i) => [k, from[i]!]));
    this.#stale = false;
    this.#reading = true;
    let res: [string, StreamEntry[]][] | null;
    try {
      res = (await this.#untilLost(
        this.#conn.xread('COUNT', this.#count, 'BLOCK', this.#blockMs, 'STREAMS', ...keys, ...from),
      )) as [string, StreamEntry[]][] | null;
    } finally {
      this.#reading = false;
    }
    for (const [key, entries] of res ?? []) this.#streams.deliver(key, fromOf.get(key)!, entries);
  }

  /** `command`, or an error once the connection closes (ioredis drops commands cut by a reconnection). */
  async #untilLost<T>(command: Promise<T>): Promise<T> {
    let onClose: (() => void) | undefined;
    const lost = new Promise<never>((_, reject) => {
      onClose = () => reject(new Error('the reader lost its Redis connection'));
      this.#conn.once('close', onClose);
    });
    try {
      return await Promise.race([command, lost]);
    } finally {
      this.#conn.off('close', onClose!);
    }
  }

  /** Ends the read in flight when it does not name every followed stream (or the reader closes). */
  async #wake(): Promise<void> {
    if (this.#waking) return;
    this.#waking = true;
    try {
      // Until Redis has the read, there is nothing to unblock yet: try again shortly.
      while (this.#reading && (this.#stale || this.#closed)) {
        const id = this.#clientId;
        if (id !== undefined && (await this.#control.client('UNBLOCK', id)) === 1) break;
        await new Promise((r) => setTimeout(r, 5));
      }
    } catch (err) {
      this.#onError(err as Error);
    } finally {
      this.#waking = false;
    }
  }
}
