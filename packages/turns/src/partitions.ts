import {
  type FleetConfig,
  type JobRetryPolicy,
  partitionOf,
  partitionQueueName,
  partitionQueuePrefix,
  type RedisClient,
  retryOptions,
  TURN_JOB_NAME,
  type TurnJob,
} from '@agent-fleet/core';
import { type Job, type JobsOptions, Queue } from 'bullmq';

/** Attempts before a turn is recorded as failed, and the first retry delay (doubling each attempt). */
export type TurnJobPolicy = JobRetryPolicy;

/** The partition queues of a fleet process, on `connection`: namespace, count and retry policy from `config`. */
export function configuredPartitions(
  config: Pick<FleetConfig, 'FLEET_NAMESPACE' | 'PARTITIONS' | 'TURN_ATTEMPTS' | 'TURN_BACKOFF_MS'>,
  connection: RedisClient,
): PartitionQueues {
  return new PartitionQueues({
    connection,
    namespace: config.FLEET_NAMESPACE,
    partitions: config.PARTITIONS,
    policy: { attempts: config.TURN_ATTEMPTS, backoffMs: config.TURN_BACKOFF_MS },
  });
}

/**
 * The partition queues `agent.p0..p{P-1}`: a user's turns always go to partition
 * jumpHash(userId) mod P, and the job id is the turn id, so adding a turn twice adds it once.
 */
export class PartitionQueues {
  readonly namespace: string;
  readonly count: number;
  readonly #queues: Queue[];
  readonly #policy: TurnJobPolicy;

  constructor(opts: {
    connection: RedisClient;
    namespace: string;
    partitions: number;
    policy: TurnJobPolicy;
  }) {
    this.namespace = opts.namespace;
    this.count = opts.partitions;
    this.#policy = opts.policy;
    this.#queues = Array.from({ length: opts.partitions }, (_, i) => {
      const queue = new Queue(partitionQueueName(i), {
        connection: opts.connection,
        prefix: partitionQueuePrefix(opts.namespace, i),
      });
      // A Redis outage surfaces on the calls that fail (add, getJob) and on the connection's own
      // listeners; without one here, BullMQ prints every reconnection error to the console.
      queue.on('error', () => {});
      return queue;
    });
  }

  get queues(): readonly Queue[] {
    return this.#queues;
  }

  partitionOf(userId: string): number {
    return partitionOf(userId, this.count);
  }

  queueFor(userId: string): Queue {
    return this.#queues[this.partitionOf(userId)]!;
  }

  jobOptions(turnId: string): JobsOptions {
    return {
      jobId: turnId,
      ...retryOptions(this.#policy),
      removeOnComplete: { age: 24 * 3600, count: 100_000 },
      removeOnFail: { age: 14 * 24 * 3600 },
    };
  }

  /**
   * Adds the turn's job (once: the job id is the turn id). A `priority` (fair queueing) orders it
   * among the partition's prioritized jobs; without one it goes before all of them, in arrival order.
   * A `delay` keeps it in `delayed` until then, or until it is promoted.
   */
  async add(job: TurnJob, opts: { priority?: number; delay?: number } = {}): Promise<void> {
    await this.queueFor(job.userId).add(TURN_JOB_NAME, job, {
      ...this.jobOptions(job.turnId),
      ...(opts.priority ? { priority: opts.priority } : {}),
      ...(opts.delay ? { delay: opts.delay } : {}),
    });
  }

  async getJob(userId: string, turnId: string): Promise<Job<TurnJob> | undefined> {
    return (await this.queueFor(userId).getJob(turnId)) as Job<TurnJob> | undefined;
  }

  async close(): Promise<void> {
    await Promise.all(this.#queues.map((q) => q.close()));
  }
}
