import {
  BACKLOG_METRIC,
  BACKLOG_STATES,
  OLDEST_WAITING_METRIC,
  type RecoveryReport,
} from '@agent-fleet/core';
import type { WorkBacklog } from '@agent-fleet/turns';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** What the gateway's event streams look like right now. */
export interface StreamGauges {
  /** Event streams (SSE) open. */
  open(): number;
  /** Turn event streams the shared reader follows for them. */
  followed(): number;
}

/** Fleet-wide numbers the gateway reads from Redis at scrape time. */
export interface FleetGauges {
  /** Redis's `used_memory` and `maxmemory` (0: no limit). */
  redisMemory(): Promise<{ used: number; max: number }>;
  /** The last recovery sweep's report, null when no sweep ran lately. */
  recovery(): Promise<RecoveryReport | null>;
}

/**
 * The gateway's /metrics: HTTP traffic, accepted turns, open event streams, the backlog of every
 * work queue (partitions, intake, reviews) that KEDA scales the workers on
 * (`fleet_queue_backlog{queue}`, with its parts in `fleet_queue_jobs{queue,state}`) and the age of
 * the job each would run next, Redis's memory and the users the last recovery sweep found stuck.
 * Every gateway exports the same fleet-wide numbers (queries take the max over gateways).
 */
export function createGatewayMetrics(backlog: WorkBacklog, streams: StreamGauges, fleet: FleetGauges) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'fleet_gateway_' });
  const jobs = new Gauge({
    name: 'fleet_queue_jobs',
    help: `Jobs per work queue in each state the backlog counts (${BACKLOG_STATES.join(', ')})`,
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
  });
  const total = new Gauge({
    name: BACKLOG_METRIC,
    help: 'Backlog per work queue: waiting + prioritized + delayed and due + active jobs (what KEDA scales on)',
    labelNames: ['queue'] as const,
    registers: [registry],
    async collect() {
      for (const q of await backlog.measure()) {
        total.set({ queue: q.queue }, q.total);
        for (const state of BACKLOG_STATES) jobs.set({ queue: q.queue, state }, q[state]);
      }
    },
  });
  const oldest = new Gauge({
    name: OLDEST_WAITING_METRIC,
    help: 'Seconds the job each work queue runs next has waited since it was added (0: nothing waits)',
    labelNames: ['queue'] as const,
    registers: [registry],
    async collect() {
      for (const q of await backlog.oldestWaiting()) oldest.set({ queue: q.queue }, q.seconds);
    },
  });
  const gauge = (name: string, help: string, read: () => number | Promise<number>) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        this.set(await read());
      },
    });
  gauge(
    'fleet_redis_memory_used_bytes',
    "Redis's used_memory (INFO memory): it runs with noeviction, so writes fail at maxmemory",
    async () => (await fleet.redisMemory()).used,
  );
  gauge(
    'fleet_redis_memory_max_bytes',
    "Redis's maxmemory (0: no limit set)",
    async () => (await fleet.redisMemory()).max,
  );
  // No report (no sweep lately, no worker running) counts nobody stuck.
  gauge(
    'fleet_recovery_stuck_users',
    'Users the last recovery sweep found with a turn left behind (nobody ran it) or could not repair (0 without a recent sweep)',
    async () => (await fleet.recovery())?.stuck ?? 0,
  );
  gauge(
    'fleet_gateway_event_streams',
    'Event streams (SSE: turn events, streamed chat completions) open on this gateway',
    () => streams.open(),
  );
  gauge(
    'fleet_gateway_event_streams_followed',
    'Turn event streams the shared blocking reader follows (one Redis connection for all)',
    () => streams.followed(),
  );
  return {
    registry,
    http: new Histogram({
      name: 'fleet_gateway_http_request_duration_seconds',
      help: 'HTTP requests by route and status',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    accepted: new Counter({
      name: 'fleet_gateway_turns_accepted_total',
      help: 'User messages accepted as turns (replays of an Idempotency-Key excluded)',
      registers: [registry],
    }),
  };
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;
