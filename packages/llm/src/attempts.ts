import { FleetError } from '@agent-fleet/core';
import type OpenAI from 'openai';
import type { UpstreamServer } from './admission.ts';
import { CallSpan, inCallSpan } from './call-span.ts';
import type { PoolMetrics } from './pool-metrics.ts';
import type { Attempt } from './retry-loop.ts';
import {
  type PoolChatRequest,
  type PoolChatResult,
  type PoolEmbedRequest,
  type PoolEmbedResult,
  type ToolCall,
  VLLM_PRIORITY,
} from './types.ts';

/** What every attempt needs of its pool. */
export interface AttemptContext {
  /** The pool's model, for requests that do not name one. */
  model: string;
  /** Per attempt, the whole answer included (a stream too). */
  requestTimeoutMs: number;
  metrics: PoolMetrics;
}

type StreamedCall = { id: string; type: 'function'; function: { name: string; arguments: string } };

/** One chat completion, not streamed. */
export function chatAttempt(ctx: AttemptContext, req: PoolChatRequest): Attempt<never, PoolChatResult> {
  return async (server, attempt) => {
    const span = CallSpan.start('chat', req.model ?? ctx.model, server, attempt);
    return inCallSpan(
      span,
      async () => {
        const res = await server.client.chat.completions.create(
          chatRequestBody(ctx.model, req, false) as never,
          { headers: callHeaders(req, span), signal: attemptSignal(req.signal, ctx.requestTimeoutMs) },
        );
        return chatResult(ctx, req, server, res as OpenAI.ChatCompletion, attempt);
      },
      (s, result) => s.answered(result),
    );
  };
}

/**
 * One streamed chat completion: yields the text as it comes and returns the whole answer. A stream
 * that ends without a `finish_reason` is a cut answer, not a short one: it fails (retryably).
 */
export function streamAttempt(
  ctx: AttemptContext,
  req: PoolChatRequest,
): Attempt<{ type: 'delta'; content: string }, PoolChatResult> {
  return async function* (server, attempt) {
    const span = CallSpan.start('chat', req.model ?? ctx.model, server, attempt);
    try {
      const result = yield* streamed(ctx, req, server, attempt, span);
      span?.answered(result);
      return result;
    } catch (err) {
      span?.ended(err);
      throw err;
    } finally {
      span?.ended();
    }
  };
}

/** The body of one streamed attempt. */
async function* streamed(
  ctx: AttemptContext,
  req: PoolChatRequest,
  server: UpstreamServer,
  attempt: number,
  span: CallSpan | undefined,
): AsyncGenerator<{ type: 'delta'; content: string }, PoolChatResult, undefined> {
  const started = performance.now();
  const stream = (await server.client.chat.completions.create(
    chatRequestBody(ctx.model, req, true) as never,
    {
      headers: callHeaders(req, span),
      signal: attemptSignal(req.signal, ctx.requestTimeoutMs),
    },
  )) as unknown as AsyncIterable<OpenAI.ChatCompletionChunk>;
  let content = '';
  let usage: OpenAI.CompletionUsage | undefined;
  let finishReason: string | undefined;
  const calls: StreamedCall[] = [];
  for await (const chunk of stream) {
    const choice = chunk.choices[0];
    if (choice?.finish_reason) finishReason = choice.finish_reason;
    for (const tc of choice?.delta?.tool_calls ?? []) mergeToolCall(calls, tc);
    const delta = choice?.delta?.content;
    if (delta) {
      if (content === '') {
        ctx.metrics.ttft.observe({ server: server.url }, (performance.now() - started) / 1000);
      }
      content += delta;
      yield { type: 'delta', content: delta };
    }
    if (chunk.usage) usage = chunk.usage;
  }
  if (!finishReason) {
    throw new FleetError('upstream_error', `stream from ${server.url} ended before the answer did`);
  }
  const message = { content, ...(calls.length ? { tool_calls: calls.filter(Boolean) } : {}) };
  const whole = { choices: [{ message, finish_reason: finishReason }], usage };
  return chatResult(ctx, req, server, whole as unknown as OpenAI.ChatCompletion, attempt);
}

/** The headers of one attempt: the user (routing at the server) and the attempt's trace context. */
function callHeaders(req: { userId: string }, span: CallSpan | undefined): Record<string, string> {
  const headers = { 'x-user-id': req.userId };
  return span ? span.headers(headers) : headers;
}

/** One embeddings request: one vector per input, in input order, and the tokens the server reported. */
export function embedAttempt(ctx: AttemptContext, req: PoolEmbedRequest): Attempt<never, PoolEmbedResult> {
  return async (server, attempt) => {
    const span = CallSpan.start('embeddings', req.model ?? ctx.model, server, attempt);
    return inCallSpan(span, () => embedOnce(ctx, req, server, span));
  };
}

async function embedOnce(
  ctx: AttemptContext,
  req: PoolEmbedRequest,
  server: UpstreamServer,
  span: CallSpan | undefined,
): Promise<PoolEmbedResult> {
  const model = req.model ?? ctx.model;
  const res = await server.client.embeddings.create(
    {
      model,
      input: req.input,
      ...(req.dimensions !== undefined ? { dimensions: req.dimensions } : {}),
    },
    { headers: callHeaders(req, span), signal: attemptSignal(req.signal, ctx.requestTimeoutMs) },
  );
  const out = new Array<number[]>(req.input.length);
  for (const d of res.data) out[d.index] = d.embedding;
  for (let i = 0; i < out.length; i++) {
    if (!Array.isArray(out[i])) {
      throw new FleetError('upstream_error', `${server.url} returned no embedding for input ${i}`, {
        retryable: false,
      });
    }
  }
  const promptTokens = res.usage?.prompt_tokens ?? 0;
  ctx.metrics.tokens.inc({ server: server.url, kind: 'prompt' }, promptTokens);
  return { vectors: out, promptTokens, model, server: server.url };
}

function mergeToolCall(calls: StreamedCall[], tc: OpenAI.ChatCompletionChunk.Choice.Delta.ToolCall): void {
  const call = calls[tc.index] ?? { id: '', type: 'function', function: { name: '', arguments: '' } };
  calls[tc.index] = call;
  if (tc.id) call.id = tc.id;
  if (tc.function?.name) call.function.name += tc.function.name;
  if (tc.function?.arguments) call.function.arguments += tc.function.arguments;
}

/** The caller's signal, bounded by the per-attempt timeout. */
function attemptSignal(caller: AbortSignal | undefined, timeoutMs: number): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs);
  return caller ? AbortSignal.any([caller, timeout]) : timeout;
}

/**
 * The body of one chat completion as the pool sends it: OpenAI's fields plus vLLM's `priority` and
 * `cache_salt`; `model` is the request's own or `defaultModel`. Exported so a reference client
 * (bench:llm's direct one) sends byte-for-byte the prompts the pool sends.
 */
export function chatRequestBody(
  defaultModel: string,
  req: PoolChatRequest,
  stream: boolean,
): Record<string, unknown> {
  return {
    model: req.model ?? defaultModel,
    messages: req.messages,
    user: req.userId,
    priority: VLLM_PRIORITY[req.priority ?? 'interactive'],
    ...(req.tenant ? { cache_salt: `tenant:${req.tenant}` } : {}),
    ...(req.maxTokens ? { max_tokens: req.maxTokens } : {}),
    ...(req.tools?.length ? { tools: req.tools } : {}),
    ...(req.toolChoice ? { tool_choice: req.toolChoice } : {}),
    ...(req.responseFormat ? { response_format: req.responseFormat } : {}),
    ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  };
}

/** The answer and its token usage (counted in the pool's metrics); no content at all is a retryable failure. */
function chatResult(
  ctx: AttemptContext,
  req: PoolChatRequest,
  server: UpstreamServer,
  res: OpenAI.ChatCompletion,
  attempts: number,
): PoolChatResult {
  const choice = res.choices[0];
  const toolCalls: ToolCall[] = (choice?.message?.tool_calls ?? []).flatMap((c) =>
    c.type === 'function' ? [{ id: c.id, name: c.function.name, arguments: c.function.arguments }] : [],
  );
  const content = choice?.message?.content ?? (toolCalls.length > 0 ? '' : undefined);
  if (typeof content !== 'string') {
    throw new FleetError('upstream_error', `LLM server ${server.url} returned no message content`, {
      retryable: true,
    });
  }
  const usage = res.usage as
    | (OpenAI.CompletionUsage & { prompt_tokens_details?: { cached_tokens?: number } })
    | undefined;
  const out: PoolChatResult = {
    model: req.model ?? ctx.model,
    content,
    toolCalls,
    finishReason: choice?.finish_reason ?? 'stop',
    promptTokens: usage?.prompt_tokens ?? 0,
    completionTokens: usage?.completion_tokens ?? 0,
    cachedTokens: usage?.prompt_tokens_details?.cached_tokens ?? 0,
    server: server.url,
    attempts,
  };
  ctx.metrics.tokens.inc({ server: server.url, kind: 'prompt' }, out.promptTokens);
  ctx.metrics.tokens.inc({ server: server.url, kind: 'completion' }, out.completionTokens);
  ctx.metrics.tokens.inc({ server: server.url, kind: 'cached' }, out.cachedTokens);
  return out;
}
