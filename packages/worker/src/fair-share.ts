import type { TurnJob } from '@agent-fleet/core';
import type { FairQueue, PartitionQueues } from '@agent-fleet/turns';

/**
 * The worker's side of fair queueing: a tagged turn that starts moves its partition's virtual
 * time, and one that ends charges its tenant what it really used. Untagged turns (QUEUE_ORDER=fifo,
 * repairs) leave both alone.
 */
export class FairShare {
  readonly #fair: Pick<FairQueue, 'started' | 'correct'>;
  readonly #partitions: Pick<PartitionQueues, 'partitionOf'>;

  constructor(
    fair: Pick<FairQueue, 'started' | 'correct'>,
    partitions: Pick<PartitionQueues, 'partitionOf'>,
  ) {
    this.#fair = fair;
    this.#partitions = partitions;
  }

  async started(job: TurnJob): Promise<void> {
    if (job.fair) await this.#fair.started(this.#partitions.partitionOf(job.userId), job.fair.start);
  }

  async correct(job: TurnJob, tokens: number): Promise<void> {
    if (job.fair) await this.#fair.correct(this.#partitions.partitionOf(job.userId), job.fair, tokens);
  }
}
