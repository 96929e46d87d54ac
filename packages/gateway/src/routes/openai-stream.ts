import type { Logger, UsageLine } from '@agent-fleet/core';
import type { TurnEvent, TurnEvents } from '@agent-fleet/turns';
import type { FastifyReply } from 'fastify';
import { openSse, SSE_KEEP_ALIVE_MS, type SseStream } from '../sse.ts';
import { toOpenAiUsage } from './openai-schemas.ts';

export interface ChatStreamOptions {
  events: TurnEvents;
  /** The turn's usage as its record holds it (read once it completed). */
  usage: () => Promise<UsageLine[]>;
  /** Ends the stream early (the gateway shuts down). */
  until: AbortSignal;
  userId: string;
  turnId: string;
  model: string;
  includeUsage: boolean;
  timeoutMs: number;
  logger: Logger;
}

/**
 * Answer a chat completion as OpenAI streams one: `chat.completion.chunk` events over SSE, a first
 * chunk with the role, one per batch of tokens the worker streamed, a last one with the
 * finish_reason (and, when `stream_options.include_usage`, a chunk with the turn's real `usage` as
 * the model servers reported it), then `data: [DONE]`. The tokens
 * come from the turn's event stream (`TurnEvents.tail`); a turn that fails, is cancelled or
 * interrupted, or does not end within `timeoutMs`, ends the stream with an OpenAI error object.
 * After a worker crash mid-answer, the redelivered turn streams its answer again from the last
 * checkpoint: a client may see part of it twice.
 */
export async function streamChatCompletion(reply: FastifyReply, opts: ChatStreamOptions): Promise<void> {
  const sse = openSse(reply, { until: opts.until, headers: { 'x-fleet-turn-id': opts.turnId } });
  const deadline = AbortSignal.timeout(opts.timeoutMs);
  const chunks = chunkWriter(sse, opts);
  try {
    chunks.delta({ role: 'assistant', content: '' }, null);
    let done: Extract<TurnEvent, { type: 'done' }> | undefined;
    const tail = opts.events.tail(opts.userId, opts.turnId, {
      signal: AbortSignal.any([sse.signal, deadline]),
      keepAliveMs: SSE_KEEP_ALIVE_MS,
    });
    for await (const item of tail) {
      if (item.kind === 'keep-alive') sse.comment('keep-alive');
      else if (item.event.type === 'token') {
        chunks.delta({ content: item.event.text }, null);
      } else if (item.event.type === 'done') done = item.event;
    }
    if (done?.status === 'completed') await chunks.finish();
    else if (done)
      chunks.error(`the turn ${opts.turnId} ${done.status}: ${done.error ?? ''}`.trim(), done.status);
    else if (deadline.aborted)
      chunks.error(`the agent did not answer within ${opts.timeoutMs} ms`, 'timeout');
    sse.send('[DONE]');
  } catch (err) {
    opts.logger.warn(
      { err: (err as Error).message, turnId: opts.turnId },
      'chat completion stream ended with an error',
    );
  } finally {
    sse.end();
  }
}

/** The chunks of one completion, in OpenAI's shapes. */
function chunkWriter(sse: SseStream, opts: ChatStreamOptions) {
  const id = `chatcmpl-${opts.turnId}`;
  const created = Math.floor(Date.now() / 1000);
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    sse.send(
      JSON.stringify({ id, object: 'chat.completion.chunk', created, model: opts.model, choices, ...extra }),
    );
  return {
    delta(delta: Record<string, unknown>, finish: string | null) {
      chunk([{ index: 0, delta, finish_reason: finish, logprobs: null }]);
    },
    async finish() {
      this.delta({}, 'stop');
      if (opts.includeUsage) chunk([], { usage: toOpenAiUsage(await opts.usage()) });
    },
    error(message: string, code: string) {
      const type = code === 'timeout' ? 'timeout' : 'server_error';
      sse.send(JSON.stringify({ error: { message, type, param: null, code } }));
    },
  };
}
