import { currentTraceCarrier, fleetTracer, inSpan, SpanKind } from '@agent-fleet/core';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it } from 'vitest';
import { type OtlpCollector, startOtlpCollector } from './testing/otlp-collector.ts';
import { startTracing, type Tracing } from './tracing.ts';

describe('startTracing', () => {
  let tracing: Tracing | undefined;
  let collector: OtlpCollector | undefined;
  afterEach(async () => {
    await tracing?.shutdown();
    await collector?.close();
    tracing = collector = undefined;
  });

  it.each([
    {},
    { OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' },
    { OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' },
  ])('starts nothing with %o: spans record nothing and no context is propagated', async (env) => {
    tracing = startTracing({ serviceName: 'fleet-test', env });
    expect(tracing.enabled).toBe(false);
    await inSpan('work', {}, async (span) => {
      expect(span.isRecording()).toBe(false);
      expect(currentTraceCarrier()).toBeUndefined();
    });
  });

  it('refuses gRPC and bad values, naming the variable', () => {
    expect(() =>
      startTracing({
        serviceName: 'fleet-test',
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' },
      }),
    ).toThrow(/OTEL_EXPORTER_OTLP_PROTOCOL: grpc is not supported/);
    expect(() =>
      startTracing({ serviceName: 'fleet-test', env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' } }),
    ).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
  });

  it('exports OTLP/HTTP JSON to the endpoint, with the service name, parentage and attributes', async () => {
    collector = await startOtlpCollector();
    tracing = startTracing({
      serviceName: 'fleet-test',
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' },
    });
    expect(tracing.enabled).toBe(true);
    const carrier = await inSpan('outer', { kind: SpanKind.SERVER }, async () =>
      inSpan('inner', { attributes: { 'fleet.turn.seq': 3 } }, async () => currentTraceCarrier()),
    );
    await tracing.flush();
    const spans = await collector.until((s) => s.length === 2);
    const outer = spans.find((s) => s.name === 'outer')!;
    const inner = spans.find((s) => s.name === 'inner')!;
    expect(outer).toMatchObject({ service: 'fleet-test', kind: 2, parentSpanId: undefined });
    expect(outer.resource['process.pid']).toBe(process.pid);
    expect(inner).toMatchObject({ traceId: outer.traceId, parentSpanId: outer.spanId, kind: 1 });
    expect(inner.attributes).toEqual({ 'fleet.turn.seq': 3 });
    expect(carrier?.traceparent).toBe(`00-${inner.traceId}-${inner.spanId}-01`);
    expect(collector.requests.map((r) => [r.path, r.contentType])).toEqual([
      ['/v1/traces', 'application/json'],
    ]);
  });

  it('exports protobuf by default, and OTEL_SERVICE_NAME names the service', async () => {
    collector = await startOtlpCollector();
    tracing = startTracing({
      serviceName: 'fleet-test',
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: `${collector.url}/`, OTEL_SERVICE_NAME: 'billing-fleet' },
    });
    fleetTracer().startSpan('one').end();
    await tracing.flush();
    expect(collector.requests).toMatchObject([{ path: '/v1/traces', contentType: 'application/x-protobuf' }]);
    expect(collector.requests[0]!.bytes).toBeGreaterThan(0);
    await tracing.shutdown();
    tracing = startTracing({
      serviceName: 'fleet-test',
      env: {
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${collector.url}/v1/traces`,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_SERVICE_NAME: 'billing-fleet',
      },
    });
    fleetTracer().startSpan('two').end();
    await tracing.flush();
    expect((await collector.until((s) => s.length === 1))[0]!.service).toBe('billing-fleet');
  });

  it('sends spans to a given processor instead (tests keep them in memory)', async () => {
    const exporter = new InMemorySpanExporter();
    tracing = startTracing({
      serviceName: 'fleet-test',
      env: {},
      processor: new SimpleSpanProcessor({ exporter }),
    });
    await inSpan('kept', {}, async () => {});
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['kept']);
  });
});
