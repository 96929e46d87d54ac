import { describeExit } from './process-tools.ts';
import type { ReadyEvent, RestartEvent, Supervisor } from './supervisor.ts';

/** "130 ms", "2.5 s", "4 min 12 s", "3 h 7 min". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(ms < 10_000 ? 2 : 1))} s`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes} min ${Math.floor((ms % 60_000) / 1000)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** One line saying what went down and when it comes back, e.g. for a SIGKILLed redis-server. */
export function formatRestart(event: RestartEvent): string {
  const next = `restart attempt ${event.attempt} in ${formatDuration(event.delayMs)}`;
  const { cause } = event;
  if (cause.kind === 'exited') {
    return `${event.service} (pid ${cause.pid}) exited with ${describeExit(cause.status)} after ${formatDuration(cause.uptimeMs)}; ${next}`;
  }
  const reason = cause.error.message.split('\n')[0];
  return `${event.service} did not start (${reason}); ${next}`;
}

/** One line saying a restarted service is up again. */
export function formatReady(event: ReadyEvent): string {
  const where = event.url ? ` at ${event.url}` : '';
  return `${event.service} is back: pid ${event.pid} ready in ${formatDuration(event.startedInMs)}${where} (restart ${event.restarts})`;
}

/**
 * Writes a line for every restart scheduled and every restarted service that is ready again, each
 * prefixed with the time; first starts and planned stops are left to the caller. Returns a function
 * that stops the logging.
 */
export function logSupervisor(supervisor: Supervisor, write: (line: string) => void): () => void {
  const stamp = () => new Date().toTimeString().slice(0, 8);
  const onRestart = (event: RestartEvent) => write(`[${stamp()}] ${formatRestart(event)}`);
  const onReady = (event: ReadyEvent) => {
    if (event.restarts > 0) write(`[${stamp()}] ${formatReady(event)}`);
  };
  supervisor.on('restarting', onRestart);
  supervisor.on('ready', onReady);
  return () => {
    supervisor.off('restarting', onRestart);
    supervisor.off('ready', onReady);
  };
}
