export { type TracingSettings, tracingSettings } from './settings.ts';
export { type StartTracingOptions, startTracing, type Tracing } from './tracing.ts';
