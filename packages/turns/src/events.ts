import { type FinalStatus, FleetError, type RedisPlace, RedisStore, userKeys } from '@agent-fleet/core';
import type { StreamEntry, StreamFollower } from './stream-followers.ts';

/** What a turn tells its watchers, in order. */
export type TurnEvent =
  | { type: 'status'; status: 'running'; attempt: number }
  /**
   * The turn waits and goes on by itself: on the model (no server had a free slot, a call is tried
   * again in `retryInMs`, every server is down) or on a dependency that is away (`postgres`,
   * `redis`, or `dependency` when which one is not known). `retryInMs`: when it tries again, if known.
   */
  | {
      type: 'status';
      status: 'waiting';
      reason: 'llm' | 'postgres' | 'redis' | 'dependency';
      retryInMs?: number;
    }
  /** The attempt before this one died mid-step: drop tokens received since the last `step`. */
  | { type: 'restart'; attempt: number }
  | { type: 'token'; text: string }
  | { type: 'step'; kind: 'model' | 'tool'; index: number; tool?: string; ok?: boolean }
  | {
      type: 'done';
      status: FinalStatus;
      reply?: string;
      error?: string;
      citations?: unknown[];
    };

export interface StoredEvent {
  /** The Redis stream id: what a client sends back as Last-Event-ID to resume. */
  id: string;
  event: TurnEvent;
}

/** What `tail` yields: the next event, or a tick after `keepAliveMs` without one. */
export type TailItem = ({ kind: 'event' } & StoredEvent) | { kind: 'keep-alive' };

export interface TailOptions {
  /** Start after this event id (Last-Event-ID); default '0', the beginning. */
  after?: string;
  /** Ends the tail at once (the client went away): `tail` returns and lets go of the stream. */
  signal?: AbortSignal;
  /** A `keep-alive` item after this long without an event; default 15 s. */
  keepAliveMs?: number;
}

const MAX_EVENTS = 5000;
const READ_COUNT = 500;
const TTL_SECONDS = 3600;

/**
 * A turn's events as a Redis stream in the user's slot: workers append, any gateway reads from
 * any point (resumable with Last-Event-ID), and the stream expires an hour after its last event.
 * Reading live (`tail`) needs a `StreamFollower` (`StreamReader` on one Redis, `StreamPoller` on a
 * cluster), which follows every tailed turn without a connection per turn; publishing does not.
 */
export class TurnEvents extends RedisStore {
  readonly #reader: StreamFollower | undefined;

  constructor(opts: RedisPlace & { reader?: StreamFollower }) {
    super(opts);
    this.#reader = opts.reader;
  }

  async publish(userId: string, turnId: string, event: TurnEvent): Promise<void> {
    const key = userKeys(this.namespace, userId).events(turnId);
    const add = this.redis.xadd(key, 'MAXLEN', '~', MAX_EVENTS, '*', 'e', JSON.stringify(event));
    // The first and the last event of an attempt set the expiry; the ones between need not.
    if (event.type === 'status' || event.type === 'done')
      await Promise.all([add, this.redis.expire(key, TTL_SECONDS)]);
    else await add;
  }

  /** Events after `afterId` ('0' for all), as many as there are now (at most `count`). */
  async read(
    userId: string,
    turnId: string,
    afterId: string,
    opts: { count?: number } = {},
  ): Promise<StoredEvent[]> {
    const key = userKeys(this.namespace, userId).events(turnId);
    const res = await this.redis.xread('COUNT', opts.count ?? READ_COUNT, 'STREAMS', key, afterId);
    return (res?.[0]?.[1] ?? []).map(toStoredEvent);
  }

  /** Whether the turn has an event stream (none before it starts, nor an hour after it ended). */
  async exists(userId: string, turnId: string): Promise<boolean> {
    return (await this.redis.exists(userKeys(this.namespace, userId).events(turnId))) === 1;
  }

  /**
   * The turn's events from `after` on, in order, live: it ends after `done`, or at once when
   * `signal` aborts; while nothing happens it yields a `keep-alive` every `keepAliveMs`. Events
   * already there are read at once; then the shared reader follows the stream until the end.
   */
  async *tail(
    userId: string,
    turnId: string,
    opts: TailOptions = {},
  ): AsyncGenerator<TailItem, void, undefined> {
    const reader = this.#reader;
    if (!reader) throw new FleetError('invalid_config', 'TurnEvents.tail needs a StreamFollower');
    const { signal } = opts;
    let last = opts.after ?? '0';
    // The events already there, at once.
    for (;;) {
      const batch = await this.read(userId, turnId, last, { count: READ_COUNT });
      for (const e of batch) {
        yield { kind: 'event', ...e };
        if (e.event.type === 'done') return;
        last = e.id;
      }
      if (batch.length < READ_COUNT || signal?.aborted) break;
    }
    if (signal?.aborted) return;
    const inbox = new Inbox();
    const stop = reader.follow(userKeys(this.namespace, userId).events(turnId), last, (entries) =>
      inbox.push(entries),
    );
    const onAbort = () => inbox.close();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        const entries = await inbox.next(opts.keepAliveMs ?? 15_000);
        if (entries === 'closed') return;
        if (entries === 'idle') {
          yield { kind: 'keep-alive' };
          continue;
        }
        for (const entry of entries) {
          const e = toStoredEvent(entry);
          yield { kind: 'event', ...e };
          if (e.event.type === 'done') return;
        }
      }
    } finally {
      stop();
      signal?.removeEventListener('abort', onAbort);
    }
  }
}

const toStoredEvent = ([id, fields]: StreamEntry): StoredEvent => ({
  id,
  event: JSON.parse(fields[1]!) as TurnEvent,
});

/** Entries handed over by the reader, waiting for the tail to take them. */
class Inbox {
  readonly #queue: StreamEntry[][] = [];
  #closed = false;
  #wake: (() => void) | undefined;

  push(entries: StreamEntry[]): void {
    this.#queue.push(entries);
    this.#wake?.();
  }

  close(): void {
    this.#closed = true;
    this.#wake?.();
  }

  /** The next entries; 'idle' after `idleMs` without any; 'closed' once closed. */
  async next(idleMs: number): Promise<StreamEntry[] | 'idle' | 'closed'> {
    if (!this.#closed && this.#queue.length === 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, idleMs);
      });
      clearTimeout(timer);
      this.#wake = undefined;
    }
    if (this.#closed) return 'closed';
    return this.#queue.shift() ?? 'idle';
  }
}

/**
 * Coalesces streamed tokens into a few events: text is sent once it passes `maxChars` or has waited
 * `maxWaitMs`, and on `flush()` (end of a step), so a long answer costs dozens of stream entries,
 * not one per token.
 */
export class TokenBuffer {
  readonly #send: (text: string) => Promise<void>;
  readonly #maxChars: number;
  readonly #maxWaitMs: number;
  #text = '';
  #timer: NodeJS.Timeout | undefined;
  #chain: Promise<void> = Promise.resolve();

  constructor(send: (text: string) => Promise<void>, opts: { maxChars?: number; maxWaitMs?: number } = {}) {
    this.#send = send;
    this.#maxChars = opts.maxChars ?? 80;
    this.#maxWaitMs = opts.maxWaitMs ?? 40;
  }

  push(text: string): void {
    this.#text += text;
    if (this.#text.length >= this.#maxChars) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), this.#maxWaitMs);
  }

  /** Send what is buffered; resolves once everything pushed so far has been sent, in order. */
  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const text = this.#text;
    this.#text = '';
    if (text) this.#chain = this.#chain.then(() => this.#send(text)).catch(() => {});
    return this.#chain;
  }
}
