import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { StreamSlots } from './stream-slots.ts';

/** How long an event stream stays silent before a keep-alive comment. */
export const SSE_KEEP_ALIVE_MS = 15_000;

/** The headers of a resumable event stream: Last-Event-ID, the id of the last event seen. */
export const lastEventIdHeaders = z.object({
  'last-event-id': z
    .string()
    .regex(/^\d+-\d+$/, 'Last-Event-ID must be an event id')
    .optional(),
});

/** A Server-Sent Events response the route writes itself (the reply is hijacked). */
export interface SseStream {
  /** Aborted the moment the stream must end (its client went away): what feeds it stops at once. */
  readonly signal: AbortSignal;
  /** One event: `data` (one line), with an `id` to resume from and an `event` name when given. */
  send(data: string, fields?: { id?: string; event?: string }): void;
  /** A comment line, which clients ignore: keeps proxies from closing an idle stream. */
  comment(text: string): void;
  end(): void;
}

/**
 * Takes over `reply` and answers 200 with an event stream. The stream's `signal` aborts when the
 * client goes away or when `until` aborts (the gateway shuts down).
 */
export function openSse(
  reply: FastifyReply,
  opts: { until: AbortSignal; headers?: Record<string, string> },
): SseStream {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    // The stream is the connection's last response: when it ends (shutdown too), the socket goes.
    connection: 'close',
    'x-accel-buffering': 'no',
    ...opts.headers,
  });
  // The client learns at once that its stream is open, not with the first event.
  res.flushHeaders();
  const gone = new AbortController();
  // The response closes when the client disconnects, or after `end`: only the first matters.
  res.once('close', () => gone.abort());
  const write = (text: string) => {
    if (!gone.signal.aborted) res.write(text);
  };
  return {
    signal: AbortSignal.any([gone.signal, opts.until]),
    send(data, fields = {}) {
      const id = fields.id ? `id: ${fields.id}\n` : '';
      const event = fields.event ? `event: ${fields.event}\n` : '';
      write(`${id}${event}data: ${data}\n\n`);
    },
    comment(text) {
      write(`: ${text}\n\n`);
    },
    end() {
      if (!res.writableEnded) res.end();
    },
  };
}

/**
 * Answers with an event stream counted against the caller's open streams
 * (MAX_STREAMS_PER_PRINCIPAL), written by `feed`; the stream ends when `feed` returns, and an error
 * `feed` throws is logged with `fields` (the stream has begun: nothing else can be answered).
 */
export async function serveEvents(
  req: FastifyRequest,
  reply: FastifyReply,
  streams: StreamSlots,
  feed: (sse: SseStream) => Promise<void>,
  fields: Record<string, string>,
): Promise<void> {
  const slot = streams.take(req.principal!);
  const sse = openSse(reply, { until: slot.signal });
  try {
    await feed(sse);
  } catch (err) {
    req.log.warn({ err: (err as Error).message, ...fields }, 'event stream ended with an error');
  } finally {
    slot.release();
    sse.end();
  }
}
