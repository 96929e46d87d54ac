import { countTokens, type Logger } from '@agent-fleet/core';
import type { TurnEvents } from '@agent-fleet/turns';
import type { FastifyReply } from 'fastify';
import type { Redis } from 'ioredis';

/**
 * Answer a chat completion as OpenAI streams one: `chat.completion.chunk` events over SSE, a first
 * chunk with the role, one per batch of tokens the worker streamed, a last one with the
 * finish_reason (and `usage` when `stream_options.include_usage`), then `data: [DONE]`. The tokens
 * come from the turn's event stream; a turn that fails, is cancelled or interrupted ends the stream
 * with an OpenAI error object. After a worker crash mid-answer, the redelivered turn streams its
 * answer again from the last checkpoint: a client may see part of it twice.
 */
export async function streamChatCompletion(
  reply: FastifyReply,
  opts: {
    redis: Redis;
    events: TurnEvents;
    userId: string;
    turnId: string;
    model: string;
    prompt: string;
    includeUsage: boolean;
    timeoutMs: number;
    logger: Logger;
  },
): Promise<void> {
  const { events } = opts;
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-fleet-turn-id': opts.turnId,
  });
  let open = true;
  res.once('close', () => {
    open = false;
  });
  const id = `chatcmpl-${opts.turnId}`;
  const created = Math.floor(Date.now() / 1000);
  const chunk = (
    delta: Record<string, unknown>,
    finish: string | null,
    extra: Record<string, unknown> = {},
  ) =>
    res.write(
      `data: ${JSON.stringify({
        id,
        object: 'chat.completion.chunk',
        created,
        model: opts.model,
        choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
        ...extra,
      })}\n\n`,
    );
  // Its own connection (a blocking read holds it); queue commands until it is connected.
  const blocking = opts.redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
  const deadline = Date.now() + opts.timeoutMs;
  try {
    chunk({ role: 'assistant', content: '' }, null);
    let last = '0';
    let answer = '';
    while (open) {
      const left = deadline - Date.now();
      if (left <= 0) {
        res.write(
          `data: ${JSON.stringify({ error: { message: `the agent did not answer within ${opts.timeoutMs} ms`, type: 'timeout', param: null, code: 'timeout' } })}\n\n`,
        );
        break;
      }
      const batch = await events.read(opts.userId, opts.turnId, last, {
        blockMs: Math.min(left, 15_000),
        redis: blocking,
      });
      let finished = false;
      for (const { id: eventId, event } of batch) {
        last = eventId;
        if (event.type === 'token') {
          answer += event.text;
          chunk({ content: event.text }, null);
        } else if (event.type === 'done') {
          finished = true;
          if (event.status === 'completed') {
            const promptTokens = countTokens(opts.prompt);
            const completionTokens = countTokens(event.reply ?? answer);
            chunk({}, 'stop');
            if (opts.includeUsage) {
              res.write(
                `data: ${JSON.stringify({
                  id,
                  object: 'chat.completion.chunk',
                  created,
                  model: opts.model,
                  choices: [],
                  usage: {
                    prompt_tokens: promptTokens,
                    completion_tokens: completionTokens,
                    total_tokens: promptTokens + completionTokens,
                  },
                })}\n\n`,
              );
            }
          } else {
            res.write(
              `data: ${JSON.stringify({ error: { message: `the turn ${opts.turnId} ${event.status}: ${event.error ?? ''}`.trim(), type: 'server_error', param: null, code: event.status } })}\n\n`,
            );
          }
        }
      }
      if (finished) break;
    }
    res.write('data: [DONE]\n\n');
  } catch (err) {
    opts.logger.warn(
      { err: (err as Error).message, turnId: opts.turnId },
      'chat completion stream ended with an error',
    );
  } finally {
    blocking.disconnect();
    res.end();
  }
}
