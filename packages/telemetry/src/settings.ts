import { FleetError, parseEnv } from '@agent-fleet/core';
import { z } from 'zod';

const int = (def: number, min: number) => z.coerce.number().int().min(min).default(def);
const httpUrl = (message: string) => z.url({ protocol: /^https?$/, message }).optional();
const protocol = z.enum(['http/protobuf', 'http/json', 'grpc'], {
  message: 'use http/protobuf or http/json',
});

/**
 * The standard OpenTelemetry variables the fleet's tracing reads (the OTLP exporter itself also
 * reads OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT, _COMPRESSION and their _TRACES_ forms, and the
 * resource OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES).
 */
const otelEnvSchema = z.object({
  OTEL_SDK_DISABLED: z
    .string()
    .transform((v) => v.toLowerCase() === 'true')
    .default(false),
  OTEL_SERVICE_NAME: z.string().optional(),
  OTEL_TRACES_EXPORTER: z.enum(['otlp', 'none'], { message: 'use otlp or none' }).default('otlp'),
  OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl(
    'use the base URL of an OTLP/HTTP receiver, e.g. http://collector:4318',
  ),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: httpUrl(
    'use the full URL of an OTLP/HTTP traces receiver, e.g. http://collector:4318/v1/traces',
  ),
  OTEL_EXPORTER_OTLP_PROTOCOL: protocol.default('http/protobuf'),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: protocol.optional(),
  OTEL_TRACES_SAMPLER: z
    .enum(
      [
        'always_on',
        'always_off',
        'traceidratio',
        'parentbased_always_on',
        'parentbased_always_off',
        'parentbased_traceidratio',
      ],
      { message: 'use always_on, always_off, traceidratio or their parentbased_ forms' },
    )
    .default('parentbased_always_on'),
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).default(1),
  OTEL_BSP_SCHEDULE_DELAY: int(5000, 0),
  OTEL_BSP_EXPORT_TIMEOUT: int(30000, 1),
  OTEL_BSP_MAX_QUEUE_SIZE: int(2048, 1),
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: int(512, 1),
});
type OtelEnv = z.output<typeof otelEnvSchema>;

/** What tracing exports, and how; null when it is off. */
export interface TracingSettings {
  /** OTEL_SERVICE_NAME, when it names the service instead of the deployable's default. */
  serviceName: string | undefined;
  /** Where spans are posted (OTLP/HTTP). */
  url: string;
  protocol: 'http/protobuf' | 'http/json';
  sampler: OtelEnv['OTEL_TRACES_SAMPLER'];
  samplerRatio: number;
  batch: {
    scheduledDelayMillis: number;
    exportTimeoutMillis: number;
    maxQueueSize: number;
    maxExportBatchSize: number;
  };
}

/**
 * Tracing settings from the environment: on when an OTLP endpoint is set (and neither
 * OTEL_SDK_DISABLED nor OTEL_TRACES_EXPORTER=none turns it off). A bad value, or gRPC, throws an
 * `invalid_config` error naming the variable.
 */
export function tracingSettings(env: Record<string, string | undefined>): TracingSettings | null {
  const e = parseEnv(otelEnvSchema, env);
  if (e.OTEL_SDK_DISABLED || e.OTEL_TRACES_EXPORTER === 'none') return null;
  const url = e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? tracesUrl(e.OTEL_EXPORTER_OTLP_ENDPOINT);
  if (url === undefined) return null;
  const chosen = e.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? e.OTEL_EXPORTER_OTLP_PROTOCOL;
  if (chosen === 'grpc') {
    const name = e.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL
      ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'
      : 'OTEL_EXPORTER_OTLP_PROTOCOL';
    throw new FleetError(
      'invalid_config',
      `invalid configuration; fix these environment variables:\n  ${name}: grpc is not supported: use http/protobuf or http/json (a collector's OTLP/HTTP port, 4318)`,
      { details: { variables: [name] } },
    );
  }
  return {
    serviceName: e.OTEL_SERVICE_NAME,
    url,
    protocol: chosen === 'http/json' ? 'http/json' : 'http/protobuf',
    sampler: e.OTEL_TRACES_SAMPLER,
    samplerRatio: e.OTEL_TRACES_SAMPLER_ARG,
    batch: {
      scheduledDelayMillis: e.OTEL_BSP_SCHEDULE_DELAY,
      exportTimeoutMillis: e.OTEL_BSP_EXPORT_TIMEOUT,
      maxQueueSize: e.OTEL_BSP_MAX_QUEUE_SIZE,
      maxExportBatchSize: Math.min(e.OTEL_BSP_MAX_EXPORT_BATCH_SIZE, e.OTEL_BSP_MAX_QUEUE_SIZE),
    },
  };
}

/** The traces path under a base endpoint, as the OTLP specification appends it. */
function tracesUrl(base: string | undefined): string | undefined {
  if (base === undefined) return undefined;
  return `${base.endsWith('/') ? base : `${base}/`}v1/traces`;
}
