import { partitionQueueName, partitionQueuePrefix, turnJobSchema } from '@agent-fleet/core';
import { Worker } from 'bullmq';
import type { WorkerDeps } from './deps.ts';

/** The BullMQ workers of every partition queue, running turns through the runner. */
export interface PartitionWorkers {
  ready(): Promise<void>;
  /** Stops taking jobs; the turns in flight finish first. */
  close(): Promise<void>;
}

export function startPartitionWorkers(deps: WorkerDeps): PartitionWorkers {
  const { config, logger, runner } = deps;
  const workers = Array.from({ length: config.PARTITIONS }, (_, i) => {
    const w = new Worker(partitionQueueName(i), (job, token) => runner.process(job, token), {
      connection: deps.bullConnection,
      prefix: partitionQueuePrefix(config.FLEET_NAMESPACE, i),
      concurrency: config.WORKER_CONCURRENCY,
      lockDuration: config.JOB_LOCK_MS,
      stalledInterval: config.STALLED_INTERVAL_MS,
      maxStalledCount: config.MAX_STALLED_COUNT,
    });
    w.on('error', (err) => logger.warn({ err: err.message, queue: w.name }, 'worker error'));
    // A job that failed for good without the runner recording it (it stalled too often) is recorded
    // here; whatever this misses, the gap repair of the user's next turn catches.
    w.on('failed', (job, err) => {
      if (!job || job.finishedOn === undefined) return;
      const parsed = turnJobSchema.safeParse(job.data);
      if (!parsed.success || !/stalled/i.test(err.message)) return;
      runner
        .recordFailure(parsed.data, err.message)
        .catch((e) =>
          logger.warn({ err: (e as Error).message, turnId: job.id }, 'could not record stalled turn'),
        );
    });
    return w;
  });
  return {
    async ready() {
      await Promise.all(workers.map((w) => w.waitUntilReady()));
    },
    async close() {
      await Promise.all(workers.map((w) => w.close()));
    },
  };
}
