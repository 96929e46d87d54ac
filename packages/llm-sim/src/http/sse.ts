import type { FastifyReply } from 'fastify';
import { wait } from './inference.ts';

type Item = { kind: 'data'; text: string; paced: boolean; cut: boolean } | { kind: 'end' };

/**
 * A server-sent-events response written straight to the socket (the reply is hijacked), so a
 * chunk can be followed by cutting the connection, as a crashing server would. Token chunks can be
 * paced by `tokenLatencyMs`; writes stay in order.
 */
export class SseStream {
  readonly #reply: FastifyReply;
  readonly #tokenLatencyMs: number;
  readonly #signal: AbortSignal;
  readonly #queue: Item[] = [];
  #pumping = false;
  #done = false;

  constructor(reply: FastifyReply, tokenLatencyMs: number, signal: AbortSignal) {
    this.#reply = reply;
    this.#tokenLatencyMs = tokenLatencyMs;
    this.#signal = signal;
  }

  /** Sends the 200 status line and headers now, before the first token. */
  open(): void {
    this.#reply.hijack();
    const raw = this.#reply.raw;
    raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    raw.flushHeaders();
  }

  /**
   * Queues one `data:` event (an object is JSON-encoded). `paced`: wait `tokenLatencyMs` first.
   * `cut`: destroy the connection once this event is flushed.
   */
  send(data: unknown, opts: { paced?: boolean; cut?: boolean } = {}): void {
    const text = `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
    this.#push({ kind: 'data', text, paced: opts.paced ?? false, cut: opts.cut ?? false });
  }

  /** Ends the response after everything queued. */
  end(): void {
    this.#push({ kind: 'end' });
  }

  #push(item: Item): void {
    if (this.#done) return;
    this.#queue.push(item);
    if (!this.#pumping) void this.#pump();
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    const raw = this.#reply.raw;
    while (this.#queue.length > 0) {
      const item = this.#queue.shift()!;
      if (item.kind === 'data' && item.paced && this.#tokenLatencyMs > 0) {
        if (!(await wait(this.#tokenLatencyMs, this.#signal))) {
          // Client gone or simulator closing: end without [DONE], as a cut-off server would.
          if (!raw.destroyed && !raw.writableEnded) raw.end();
          this.#done = true;
          break;
        }
      }
      if (raw.destroyed || raw.writableEnded) break;
      if (item.kind === 'end') {
        raw.end();
        this.#done = true;
      } else if (item.cut) {
        raw.write(item.text, () => raw.socket?.destroy());
        this.#done = true;
      } else {
        raw.write(item.text);
      }
      if (this.#done) break;
    }
    if (this.#done || raw.destroyed) this.#queue.length = 0;
    this.#pumping = false;
  }
}
