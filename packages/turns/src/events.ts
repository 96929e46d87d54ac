import { type FinalStatus, userKeys } from '@agent-fleet/core';
import type { Redis } from 'ioredis';

/** What a turn tells its watchers, in order. */
export type TurnEvent =
  | { type: 'status'; status: 'running'; attempt: number }
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

const MAX_EVENTS = 5000;
const TTL_SECONDS = 3600;

/**
 * A turn's events as a Redis stream in the user's slot: workers append, any gateway reads from
 * any point (resumable with Last-Event-ID), and the stream expires an hour after its last event.
 */
export class TurnEvents {
  readonly #redis: Redis;
  readonly #namespace: string;

  constructor(opts: { redis: Redis; namespace: string }) {
    this.#redis = opts.redis;
    this.#namespace = opts.namespace;
  }

  async publish(userId: string, turnId: string, event: TurnEvent): Promise<void> {
    const key = userKeys(this.#namespace, userId).events(turnId);
    const add = this.#redis.xadd(key, 'MAXLEN', '~', MAX_EVENTS, '*', 'e', JSON.stringify(event));
    // The first and the last event of an attempt set the expiry; the ones between need not.
    if (event.type === 'status' || event.type === 'done')
      await Promise.all([add, this.#redis.expire(key, TTL_SECONDS)]);
    else await add;
  }

  /**
   * Events after `afterId` ('0' for all). With `blockMs`, waits that long for the first new one.
   * Pass a connection of its own for blocking reads: XREAD BLOCK holds it.
   */
  async read(
    userId: string,
    turnId: string,
    afterId: string,
    opts: { blockMs?: number; count?: number; redis?: Redis } = {},
  ): Promise<StoredEvent[]> {
    const key = userKeys(this.#namespace, userId).events(turnId);
    const redis = opts.redis ?? this.#redis;
    const res =
      opts.blockMs !== undefined
        ? await redis.xread('COUNT', opts.count ?? 500, 'BLOCK', opts.blockMs, 'STREAMS', key, afterId)
        : await redis.xread('COUNT', opts.count ?? 500, 'STREAMS', key, afterId);
    const entries = res?.[0]?.[1] ?? [];
    return entries.map(([id, fields]) => ({ id, event: JSON.parse(fields[1]!) as TurnEvent }));
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
