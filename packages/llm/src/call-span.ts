import { ATTR, type Attributes, fleetTracer, markFailed, type Span, SpanKind } from '@agent-fleet/core';
import { context, propagation, trace } from '@opentelemetry/api';
import type { UpstreamServer } from './admission.ts';
import type { PoolChatResult } from './types.ts';

/**
 * One attempt of a pool call at one server, traced as a client span (`chat <model>`, `embeddings
 * <model>`: the server chosen, the attempt, and for an answer its tokens and prefix-cache hit). Only
 * a traced caller gets one: pool calls outside any trace make no span. Its W3C context goes to the
 * server in `traceparent`, so a server that traces (vLLM with an OTLP endpoint) joins the trace.
 */
export class CallSpan {
  readonly #span: Span;
  #ended = false;

  private constructor(span: Span) {
    this.#span = span;
  }

  /** The span of `attempt` at `server`; undefined when the caller is not traced. */
  static start(
    operation: 'chat' | 'embeddings',
    model: string,
    server: UpstreamServer,
    attempt: number,
  ): CallSpan | undefined {
    if (!trace.getActiveSpan()?.isRecording()) return undefined;
    const url = new URL(server.url);
    const span = fleetTracer().startSpan(`${operation} ${model}`, {
      kind: SpanKind.CLIENT,
      attributes: {
        'gen_ai.operation.name': operation,
        'gen_ai.request.model': model,
        'server.address': url.hostname,
        'server.port': Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
        [ATTR.llmServer]: server.url,
        [ATTR.llmAttempt]: attempt,
      },
    });
    return new CallSpan(span);
  }

  /** `headers` with this attempt's `traceparent` (and `tracestate`). */
  headers(headers: Record<string, string>): Record<string, string> {
    propagation.inject(trace.setSpan(context.active(), this.#span), headers);
    return headers;
  }

  /** The attempt answered. */
  answered(result: PoolChatResult): void {
    this.#end({
      'gen_ai.usage.input_tokens': result.promptTokens,
      'gen_ai.usage.output_tokens': result.completionTokens,
      'gen_ai.response.finish_reasons': [result.finishReason],
      [ATTR.cachedTokens]: result.cachedTokens,
      [ATTR.cacheHit]: result.cachedTokens > 0,
    });
  }

  /** The attempt ended some other way: `err` when it failed, nothing when its caller stopped reading. */
  ended(err?: unknown): void {
    if (err !== undefined && !this.#ended) markFailed(this.#span, err);
    this.#end({});
  }

  #end(attributes: Attributes): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#span.setAttributes(attributes);
    this.#span.end();
  }
}

/**
 * Runs one attempt's `call` in `span` (when traced), which ends with the call: failed with what it
 * threw, else through `answered` (the chat answer's tokens), else plainly.
 */
export async function inCallSpan<T>(
  span: CallSpan | undefined,
  call: () => Promise<T>,
  answered?: (span: CallSpan, result: T) => void,
): Promise<T> {
  try {
    const result = await call();
    if (span && answered) answered(span, result);
    else span?.ended();
    return result;
  } catch (err) {
    span?.ended(err);
    throw err;
  }
}
