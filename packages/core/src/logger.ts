import { type Logger, pino } from 'pino';

export type { Logger };

/** Structured JSON logs on stdout; `name` says which deployable or library wrote the line. */
export function createLogger(name: string, level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, base: { pid: process.pid, service: name } });
}
