/**
 * bench:llm's reference client: the same conversations sent straight to the same servers, with no
 * pool in between, as well as a client can send them. It is what the pool's throughput is divided
 * by, so it must be a fair best case, not a straw man.
 */
import { chatRequestBody, createHttpFetch, type PoolChatRequest } from '@agent-fleet/llm';
import OpenAI from 'openai';
import type { TurnReply } from './llm-workload.ts';

/** Free batch slots of one server and the turns waiting for one, first come first served. */
class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(size: number) {
    this.#free = size;
  }

  /** Takes a slot: undefined when one was free, else a promise resolved when one is handed over. */
  acquire(): Promise<void> | undefined {
    if (this.#free > 0) {
      this.#free--;
      return undefined;
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** Hands the slot to the longest-waiting turn at once, else frees it. */
  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
  }
}

export interface DirectClientOptions {
  urls: string[];
  model: string;
  /** Requests in flight per server: its batch size (vLLM max_num_seqs), so every batch stays full. */
  maxInFlightPerServer: number;
}

/**
 * Conversation `c` always goes to server `c mod n` (each server gets the same number of
 * conversations, and every turn finds its history in that server's prefix cache); each server has
 * `maxInFlightPerServer` requests in flight whenever that many turns are ready, and a turn that
 * finds the batch full waits for the next answer from that server. Bodies are the pool's own
 * (`chatRequestBody`) and go through the same keep-alive HTTP transport; no retries, no health
 * checks, no routing decisions: a failure fails the bench.
 */
export class DirectClient {
  readonly #clients: OpenAI[];
  readonly #slots: Slots[];
  readonly #model: string;

  constructor(opts: DirectClientOptions) {
    const fetchImpl = createHttpFetch();
    this.#model = opts.model;
    this.#clients = opts.urls.map(
      (url) =>
        new OpenAI({ baseURL: url, apiKey: 'bench', maxRetries: 0, timeout: 600_000, fetch: fetchImpl }),
    );
    this.#slots = opts.urls.map(() => new Slots(opts.maxInFlightPerServer));
  }

  /** The server conversation `conversation` is pinned to. */
  serverOf(conversation: number): number {
    return conversation % this.#clients.length;
  }

  /** Sends `req` on its conversation's server; `onQueued` is told how long a turn waited for a slot. */
  async chat(
    conversation: number,
    req: PoolChatRequest,
    onQueued?: (waitedMs: number) => void,
  ): Promise<TurnReply> {
    const server = this.serverOf(conversation);
    const slots = this.#slots[server]!;
    const waited = slots.acquire();
    if (waited) {
      const started = performance.now();
      await waited;
      onQueued?.(performance.now() - started);
    }
    try {
      const body = chatRequestBody(this.#model, req, false);
      const res = (await this.#clients[server]!.chat.completions.create(body as never, {
        headers: { 'x-user-id': req.userId },
      })) as OpenAI.ChatCompletion;
      return {
        content: res.choices[0]?.message?.content ?? '',
        completionTokens: res.usage?.completion_tokens ?? 0,
      };
    } finally {
      slots.release();
    }
  }
}
