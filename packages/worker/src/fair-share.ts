import type { TurnJob } from '@agent-fleet/core';
import type { FairQueue, PartitionQueues } from '@agent-fleet/turns';
import type { Job } from 'bullmq';

/**
 * The worker's side of fair queueing: a tagged turn that starts moves its partition's virtual
 * time, one that ends charges its tenant what it really used, and one that becomes its user's next
 * turn is tagged then (see `FairQueue.requeue`). Untagged turns (QUEUE_ORDER=fifo, repairs) are
 * left alone.
 */
export class FairShare {
  readonly #fair: Pick<FairQueue, 'started' | 'correct' | 'requeue'>;
  readonly #partitions: Pick<PartitionQueues, 'partitionOf'>;

  constructor(
    fair: Pick<FairQueue, 'started' | 'correct' | 'requeue'>,
    partitions: Pick<PartitionQueues, 'partitionOf'>,
  ) {
    this.#fair = fair;
    this.#partitions = partitions;
  }

  async started(job: TurnJob): Promise<void> {
    if (job.fair) await this.#fair.started(this.#partitions.partitionOf(job.userId), job.fair.start);
  }

  /** A turn's job became its user's next turn, or goes back into the queue: see `FairQueue.requeue`. */
  async requeue(job: Job<TurnJob>): Promise<void> {
    const userId = job.data?.userId;
    if (userId) await this.#fair.requeue(this.#partitions.partitionOf(userId), job);
  }

  async correct(job: TurnJob, tokens: number): Promise<void> {
    if (job.fair) await this.#fair.correct(this.#partitions.partitionOf(job.userId), job.fair, tokens);
  }
}
