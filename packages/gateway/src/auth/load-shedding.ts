import { FleetError, type Logger } from '@agent-fleet/core';
import type { onRequestAsyncHookHandler } from 'fastify';

export interface LoadShedderOptions {
  /** Measures the fleet's backlog (`WorkBacklog.total`: the signal the autoscalers scale on). */
  measure: () => Promise<number>;
  /** Shed above a backlog of this many jobs (SHED_BACKLOG); 0 never sheds. */
  limit: number;
  /** How often the backlog is measured; default 1 s. */
  refreshMs?: number;
  /** `Retry-After` of a shed request; default 5 s. */
  retryAfterSeconds?: number;
  logger?: Logger;
}

export interface LoadShedder {
  /** Guard for message-accepting routes: 429 + Retry-After while the backlog is over the limit. */
  readonly guard: onRequestAsyncHookHandler;
  /** The backlog last measured. */
  backlog(): number;
  /** Measure now (tests; the timer does it otherwise). */
  refresh(): Promise<number>;
  close(): void;
}

/**
 * Load shedding: when the fleet's backlog (the jobs waiting or running) passes a limit, new messages are
 * refused with 429 and `Retry-After` instead of queueing work nobody will see answered in time.
 * The backlog is measured on a timer, not per request, so shedding costs requests nothing.
 */
export function createLoadShedder(opts: LoadShedderOptions): LoadShedder {
  let backlog = 0;
  const retryAfter = opts.retryAfterSeconds ?? 5;
  const refresh = async () => {
    backlog = await opts.measure();
    return backlog;
  };
  const timer =
    opts.limit > 0
      ? setInterval(() => {
          refresh().catch((err) =>
            opts.logger?.warn({ err: (err as Error).message }, 'cannot measure the backlog'),
          );
        }, opts.refreshMs ?? 1000)
      : undefined;
  timer?.unref();
  return {
    async guard(_req, reply) {
      if (opts.limit <= 0 || backlog <= opts.limit) return;
      reply.header('retry-after', String(retryAfter));
      throw new FleetError(
        'rate_limited',
        `the fleet is overloaded (${backlog} turns waiting); try again later`,
        {
          details: { reason: 'backlog', backlog, limit: opts.limit, retryAfterSeconds: retryAfter },
        },
      );
    },
    backlog: () => backlog,
    refresh,
    close: () => clearInterval(timer),
  };
}
