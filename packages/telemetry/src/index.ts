export { type OtelEnv, otelEnvSchema, type TracingSettings, tracingSettings } from './settings.ts';
export { exporterOf, type StartTracingOptions, startTracing, type Tracing } from './tracing.ts';
