import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import {
  detectResources,
  envDetector,
  type Resource,
  resourceFromAttributes,
} from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { type TracingSettings, tracingSettings } from './settings.ts';

/** The tracing of one process: started from the environment, flushed and stopped by its owner. */
export interface Tracing {
  /** Whether spans are recorded and exported (an OTLP endpoint is set). */
  readonly enabled: boolean;
  /** Export every ended span now. */
  flush(): Promise<void>;
  /** Export what is left and stop; the API is a no-op again afterwards. */
  shutdown(): Promise<void>;
}

const OFF: Tracing = { enabled: false, flush: async () => {}, shutdown: async () => {} };

export interface StartTracingOptions {
  /** `fleet-gateway`, `fleet-worker`: the service name unless OTEL_SERVICE_NAME gives one. */
  serviceName: string;
  env?: Record<string, string | undefined>;
  /** Where the spans go instead of an OTLP exporter (tests: an in-memory exporter). */
  processor?: SpanProcessor;
}

/**
 * Starts the OpenTelemetry SDK for this process from the standard OTEL_* variables: spans exported
 * over OTLP/HTTP (protobuf by default, JSON with OTEL_EXPORTER_OTLP_PROTOCOL=http/json) in batches,
 * the W3C trace context and baggage propagated, AsyncLocalStorage carrying the active span. Without
 * an endpoint nothing is started: no exporter, no provider, and the API stays a no-op. Call it
 * once, first thing in a deployable's main; a bad OTEL_* value throws, naming the variable.
 */
export function startTracing(opts: StartTracingOptions): Tracing {
  const env = opts.env ?? process.env;
  const settings = tracingSettings(env);
  if (!settings && !opts.processor) return OFF;
  const processor = opts.processor ?? batchProcessor(settings!);
  const provider = new TracerProvider({
    resource: resourceOf(settings?.serviceName ?? opts.serviceName),
    ...(settings ? { sampler: samplerOf(settings) } : {}),
    spanProcessors: [processor],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
  trace.setGlobalTracerProvider(provider);
  return {
    enabled: true,
    flush: () => provider.forceFlush(),
    async shutdown() {
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}

function batchProcessor(settings: TracingSettings): SpanProcessor {
  return new BatchSpanProcessor({ exporter: exporterOf(settings), ...settings.batch });
}

/** The OTLP/HTTP exporter of the chosen encoding (headers, timeout, compression from OTEL_EXPORTER_OTLP_*). */
function exporterOf(settings: Pick<TracingSettings, 'url' | 'protocol'>): SpanExporter {
  return settings.protocol === 'http/json'
    ? new JsonExporter({ url: settings.url })
    : new ProtobufExporter({ url: settings.url });
}

function samplerOf(s: TracingSettings): Sampler {
  switch (s.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(s.samplerRatio);
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(s.samplerRatio) });
  }
}

/** The service's name and process id, with what OTEL_RESOURCE_ATTRIBUTES adds. */
function resourceOf(serviceName: string): Resource {
  return resourceFromAttributes({ 'process.pid': process.pid })
    .merge(detectResources({ detectors: [envDetector] }))
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName }));
}
