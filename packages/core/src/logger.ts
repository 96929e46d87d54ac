import { type Logger, pino } from 'pino';
import { traceLogFields } from './tracing.ts';

export type { Logger };

/**
 * Structured JSON logs on stdout; `name` says which deployable or library wrote the line. A line
 * written inside a traced span carries its `trace_id` and `span_id`, so logs and traces join.
 */
export function createLogger(name: string, level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, base: { pid: process.pid, service: name }, mixin: traceLogFields });
}
