import type { PartitionQueues } from '@agent-fleet/turns';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** What the gateway's event streams look like right now. */
export interface StreamGauges {
  /** Event streams (SSE) open. */
  open(): number;
  /** Turn event streams the shared reader follows for them. */
  followed(): number;
}

/** A queue besides the partitions whose backlog is exported (the review documents). */
export interface BacklogSource {
  queue: string;
  backlog(): Promise<number>;
}

/**
 * The gateway's /metrics: HTTP traffic, accepted turns, open event streams, and the backlog KEDA
 * scales on (every partition queue, and `others` such as `review.docs`).
 */
export function createGatewayMetrics(
  partitions: PartitionQueues,
  streams: StreamGauges,
  others: readonly BacklogSource[] = [],
) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'fleet_gateway_' });
  const backlog = new Gauge({
    name: 'fleet_queue_backlog',
    help: 'Jobs waiting, prioritized or active per partition queue and review queue (what KEDA scales on)',
    labelNames: ['queue'] as const,
    registers: [registry],
    async collect() {
      const counts = await partitions.backlog();
      counts.forEach((n, i) => {
        backlog.set({ queue: partitions.queues[i]!.name }, n);
      });
      for (const o of others) backlog.set({ queue: o.queue }, await o.backlog());
    },
  });
  new Gauge({
    name: 'fleet_gateway_event_streams',
    help: 'Event streams (SSE: turn events, streamed chat completions) open on this gateway',
    registers: [registry],
    collect() {
      this.set(streams.open());
    },
  });
  new Gauge({
    name: 'fleet_gateway_event_streams_followed',
    help: 'Turn event streams the shared blocking reader follows (one Redis connection for all)',
    registers: [registry],
    collect() {
      this.set(streams.followed());
    },
  });
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
