import { inSpan } from '@agent-fleet/core';
import { startTracing, type Tracing } from '@agent-fleet/telemetry';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ask, simFixtures, userHomedAt } from './testing/sim-fixtures.ts';

describe('LLM call spans', () => {
  const { sim, pool } = simFixtures();
  let exporter: InMemorySpanExporter;
  let tracing: Tracing;
  beforeEach(() => {
    // A new one each time: stopping the tracing stops its exporter.
    exporter = new InMemorySpanExporter();
    tracing = startTracing({ serviceName: 'fleet-test', processor: new SimpleSpanProcessor({ exporter }) });
  });
  afterEach(() => tracing.shutdown());

  const childrenOf = (parent: ReadableSpan) =>
    exporter.getFinishedSpans().filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId);

  it.each(['chat', 'chatStream'] as const)(
    '%s: one client span per attempt, the failed one an error, the answer with its server and tokens; traceparent sent',
    async (method) => {
      const servers = [await sim({ errorRate: 1 }), await sim()];
      const sent: (string | null)[] = [];
      const p = pool(servers, {
        fetch: (input, init) => {
          sent.push(new Headers(init?.headers).get('traceparent'));
          return fetch(input, init);
        },
      });
      const user = userHomedAt(servers, 0);
      const result = await inSpan('turn.model', {}, async () => {
        if (method === 'chat') return p.chat(ask(user));
        for await (const ev of p.chatStream(ask(user))) if (ev.type === 'done') return ev.result;
        throw new Error('no result');
      });
      const model = exporter.getFinishedSpans().find((s) => s.name === 'turn.model')!;
      const [failed, answered] = childrenOf(model).sort(
        (a, b) => Number(a.attributes['fleet.llm.attempt']) - Number(b.attributes['fleet.llm.attempt']),
      );
      expect(childrenOf(model)).toHaveLength(2);
      for (const s of [failed!, answered!]) {
        expect(s.name).toBe('chat fleet-sim');
        expect(s.kind).toBe(SpanKind.CLIENT);
      }
      expect(failed!.attributes).toMatchObject({
        'fleet.llm.server': servers[0]!.url,
        'fleet.llm.attempt': 1,
      });
      expect(failed!.status.code).toBe(SpanStatusCode.ERROR);
      expect(answered!.attributes).toMatchObject({
        'fleet.llm.server': servers[1]!.url,
        'fleet.llm.attempt': 2,
        'gen_ai.usage.input_tokens': result.promptTokens,
        'gen_ai.usage.output_tokens': result.completionTokens,
        'fleet.llm.cached_tokens': result.cachedTokens,
        'fleet.llm.cache_hit': result.cachedTokens > 0,
      });
      expect(answered!.status.code).toBe(SpanStatusCode.UNSET);
      // Each attempt told its server its own span as the parent.
      const ids = (s: ReadableSpan) => `00-${s.spanContext().traceId}-${s.spanContext().spanId}-01`;
      expect(sent).toEqual([ids(failed!), ids(answered!)]);
    },
  );

  it('makes no span and sends no traceparent for a caller outside any trace', async () => {
    const sent: (string | null)[] = [];
    const p = pool([await sim()], {
      fetch: (input, init) => {
        sent.push(new Headers(init?.headers).get('traceparent'));
        return fetch(input, init);
      },
    });
    await p.chat(ask('untraced'));
    expect(exporter.getFinishedSpans()).toEqual([]);
    expect(sent).toEqual([null]);
  });
});
