import {
  type Attributes,
  type Context,
  context,
  INVALID_SPAN_CONTEXT,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { z } from 'zod';
import type { TurnStage } from './turn-stages.ts';

/**
 * The fleet's instrumentation: every package makes its spans through the OpenTelemetry API with this
 * tracer. Until a deployable starts the SDK (`@agent-fleet/telemetry`) the API is a no-op: no span
 * records, nothing is propagated, nothing is exported. Looked up at each use, so it follows the SDK
 * a process starts (or stops) at any time.
 */
export function fleetTracer(): Tracer {
  return trace.getTracer('agent-fleet');
}

/** Span and attribute names, one place for each, so a trace reads the same whoever made the span. */
export const SPAN = {
  /** The gateway (or any producer) accepts a turn: its context travels in the job. */
  accept: 'turn.accept',
  /** One delivery of a turn job to a worker: parked, a duplicate, or run. */
  delivery: 'turn.delivery',
} as const;

export const ATTR = {
  userId: 'fleet.user_id',
  turnId: 'fleet.turn_id',
  seq: 'fleet.turn.seq',
  attempt: 'fleet.turn.attempt',
  stage: 'fleet.turn.stage',
  gate: 'fleet.turn.gate',
  outcome: 'fleet.turn.outcome',
  resumedSteps: 'fleet.turn.resumed_steps',
  tenant: 'fleet.tenant',
  llmServer: 'fleet.llm.server',
  llmAttempt: 'fleet.llm.attempt',
  cachedTokens: 'fleet.llm.cached_tokens',
  cacheHit: 'fleet.llm.cache_hit',
  toolOk: 'fleet.tool.ok',
  passages: 'fleet.retrieval.passages',
} as const;

/** The span of a turn stage (`turn.model`, `turn.commit`, ...), named after TURN_STAGES. */
export function stageSpanName(stage: TurnStage): `turn.${TurnStage}` {
  return `turn.${stage}`;
}

/** W3C trace context (`traceparent`, `tracestate`) as a job carries it across the queue. */
export const traceCarrierSchema = z.object({
  traceparent: z.string().regex(/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/),
  tracestate: z.string().max(512).optional(),
});
export type TraceCarrier = z.infer<typeof traceCarrierSchema>;

/** The active span's context as a carrier; undefined when there is none (no SDK, or no span). */
export function currentTraceCarrier(ctx: Context = context.active()): TraceCarrier | undefined {
  const carrier: Partial<TraceCarrier> = {};
  propagation.inject(ctx, carrier);
  return carrier.traceparent ? (carrier as TraceCarrier) : undefined;
}

/** The context a carrier describes (the root context without one). */
export function contextOfCarrier(carrier: TraceCarrier | undefined): Context {
  return carrier ? propagation.extract(ROOT_CONTEXT, carrier) : ROOT_CONTEXT;
}

/** A link to the span a carrier names (none when it names none). */
export function linkToCarrier(carrier: TraceCarrier | undefined): Link[] {
  const span = carrier ? trace.getSpanContext(contextOfCarrier(carrier)) : undefined;
  return span ? [{ context: span }] : [];
}

export interface SpanSettings {
  kind?: SpanKind;
  attributes?: Attributes;
  links?: Link[];
  /** The parent (the active context when absent). */
  parent?: Context;
  /** Errors that end the span without failing it (control flow, like a job handed back to its queue). */
  expected?: (err: unknown) => boolean;
}

/**
 * Runs `fn` inside a new span, active for everything `fn` starts; a throw marks the span as an
 * error (and is rethrown). The span ends when `fn` settles.
 */
export async function inSpan<T>(name: string, s: SpanSettings, fn: (span: Span) => Promise<T>): Promise<T> {
  const parent = s.parent ?? context.active();
  const span = fleetTracer().startSpan(
    name,
    {
      kind: s.kind ?? SpanKind.INTERNAL,
      ...(s.attributes ? { attributes: s.attributes } : {}),
      ...(s.links ? { links: s.links } : {}),
    },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (err) {
    if (!s.expected?.(err)) markFailed(span, err);
    throw err;
  } finally {
    span.end();
  }
}

/** Marks `span` as failed by `err`. */
export function markFailed(span: Span, err: unknown): void {
  if (!span.isRecording()) return;
  const e = err instanceof Error ? err : new Error(String(err));
  span.recordException(e);
  span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
}

/**
 * A span that happened already, from `startMs` to `endMs` (ms since the epoch), under the active
 * context: for parts measured elsewhere, like the time a turn waited in the queue.
 */
export function pastSpan(
  name: string,
  startMs: number,
  endMs: number,
  attributes: Attributes = {},
  parent: Context = context.active(),
): void {
  const sampled = trace.getSpanContext(parent)?.traceFlags ?? TraceFlags.NONE;
  if ((sampled & TraceFlags.SAMPLED) === 0) return;
  fleetTracer().startSpan(name, { startTime: startMs, attributes }, parent).end(endMs);
}

/** A span that records nothing, for work run outside any trace. */
export const NO_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** `trace_id` and `span_id` of the active span for a log line (nothing outside a traced span). */
export function traceLogFields(): { trace_id?: string; span_id?: string } {
  const span = trace.getActiveSpan();
  if (!span?.isRecording()) return {};
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

export { type Attributes, type Context, type Span, SpanKind };
