import { type BacklogState, type RedisClient, type WorkQueue, workQueues } from '@agent-fleet/core';
import { Queue } from 'bullmq';

/** One queue's backlog: its jobs in each counted state, and their sum. */
export type QueueBacklog = { queue: string; total: number } & Record<BacklogState, number>;

/**
 * The backlog of one queue as the fleet defines it (see BACKLOG_STATES): waiting + prioritized +
 * delayed jobs due by `now` + active. Two reads pipelined on one connection, not one snapshot, so a
 * job moving between states at that instant may count twice or not at all: a scaling signal
 * sampled every few seconds tolerates that.
 */
export async function measureQueueBacklog(queue: Queue, now = Date.now()): Promise<QueueBacklog> {
  const [counts, delayedReady] = await Promise.all([
    queue.getJobCounts('wait', 'prioritized', 'active'),
    // Counts delayed jobs scheduled strictly before the timestamp: those due at `now` included.
    queue.getDelayedCount(Math.floor(now) + 1),
  ]);
  const waiting = counts.wait ?? 0;
  const prioritized = counts.prioritized ?? 0;
  const active = counts.active ?? 0;
  return {
    queue: queue.name,
    waiting,
    prioritized,
    delayedReady,
    active,
    total: waiting + prioritized + delayedReady + active,
  };
}

/**
 * How long the job a worker would take next has waited, in seconds (0 when none waits): the oldest
 * of the tail of `wait` (BullMQ pushes at the head and takes from the tail), the first prioritized
 * job and the first delayed job once it is due, aged from when it was added. Retries keep their
 * first timestamp, so a turn retried for minutes shows its whole wait.
 */
export async function oldestWaitingSeconds(queue: Queue, now = Date.now()): Promise<number> {
  const [waiting, prioritized, delayed, dueCount] = await Promise.all([
    queue.getWaiting(0, 0),
    queue.getPrioritized(0, 0),
    queue.getDelayed(0, 0),
    queue.getDelayedCount(Math.floor(now) + 1),
  ]);
  // The first delayed job is the one due first: it counts once any delayed job is due.
  const due = dueCount > 0 ? delayed : [];
  const oldest = Math.min(...[...waiting, ...prioritized, ...due].map((j) => j.timestamp));
  return Number.isFinite(oldest) ? Math.max(0, now - oldest) / 1000 : 0;
}

/**
 * The fleet's backlog signal over every work queue of the catalogue (partitions, intake, reviews):
 * what the gateway exports as `fleet_queue_backlog{queue}`, what load shedding compares with
 * SHED_BACKLOG, and what the local autoscaler scales on. Producers and scalers share this one
 * reading so that the number on a dashboard is the number a scaling decision used.
 */
export class WorkBacklog {
  readonly queues: readonly WorkQueue[];
  readonly #bull: Queue[];

  constructor(opts: { connection: RedisClient; namespace: string; partitions: number }) {
    this.queues = workQueues(opts.namespace, opts.partitions);
    this.#bull = this.queues.map((q) => new Queue(q.name, { connection: opts.connection, prefix: q.prefix }));
  }

  /** Every work queue's backlog, in catalogue order. */
  measure(now = Date.now()): Promise<QueueBacklog[]> {
    return Promise.all(this.#bull.map((q) => measureQueueBacklog(q, now)));
  }

  /** Every work queue's oldest waiting job's age in seconds (see oldestWaitingSeconds), in catalogue order. */
  oldestWaiting(now = Date.now()): Promise<{ queue: string; seconds: number }[]> {
    return Promise.all(
      this.#bull.map(async (q) => ({ queue: q.name, seconds: await oldestWaitingSeconds(q, now) })),
    );
  }

  /** The sum over every work queue. */
  async total(now = Date.now()): Promise<number> {
    return (await this.measure(now)).reduce((sum, q) => sum + q.total, 0);
  }

  async close(): Promise<void> {
    await Promise.all(this.#bull.map((q) => q.close()));
  }
}
