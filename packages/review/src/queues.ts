import { REVIEW_QUEUES, type RedisClient, retryOptions, reviewQueuePrefix } from '@agent-fleet/core';
import { FlowProducer, type JobsOptions, Queue } from 'bullmq';
import type { ReviewJobData, ReviewJobName, ReviewJobPolicy } from './jobs.ts';
import { QUEUE_PRIORITY, type ReviewPriority } from './statuses.ts';

/** Finished review jobs kept for Bull Board, bounded so the queues do not grow forever. */
const KEEP_COMPLETED = { age: 7 * 24 * 3600, count: 100_000 };
const KEEP_FAILED = { age: 14 * 24 * 3600, count: 100_000 };

/** One child of a run's flow: a document, with the items it covers. */
export interface FlowChild {
  docId: string;
  ordinal: number;
  group: number;
  itemIds: string[];
}

/**
 * The review queues (`review.runs`, `review.docs`, one hash tag) and the flow producer. Job ids are
 * derived from the run, its generation and the document, so adding the same work twice adds it once.
 */
export class ReviewQueues {
  readonly runs: Queue;
  readonly docs: Queue;
  readonly #flows: FlowProducer;
  readonly #policies: Record<ReviewJobName, ReviewJobPolicy>;
  readonly #prefix: string;

  constructor(opts: {
    connection: RedisClient;
    namespace: string;
    policies: Record<ReviewJobName, ReviewJobPolicy>;
  }) {
    this.#prefix = reviewQueuePrefix(opts.namespace);
    this.runs = new Queue(REVIEW_QUEUES.runs, { connection: opts.connection, prefix: this.#prefix });
    this.docs = new Queue(REVIEW_QUEUES.docs, { connection: opts.connection, prefix: this.#prefix });
    this.#flows = new FlowProducer({ connection: opts.connection, prefix: this.#prefix });
    this.#policies = opts.policies;
  }

  get prefix(): string {
    return this.#prefix;
  }

  get queues(): readonly Queue[] {
    return [this.runs, this.docs];
  }

  /** Adds the job that starts generation `generation` of a run. */
  async start(data: ReviewJobData<'start'>, priority: ReviewPriority): Promise<void> {
    await this.runs.add('start', data, {
      jobId: `${data.runId}.${data.generation}.start`,
      ...this.#options('start', priority),
    });
  }

  /**
   * Adds a run's flow in one step: the `finish` parent on `review.runs` and one `document` child
   * per entry on `review.docs`. A child that fails for good does not hold the parent back
   * (`ignoreDependencyOnFailure`): the run finishes and reports that document as failed.
   */
  async addFlow(
    run: ReviewJobData<'finish'>,
    priority: ReviewPriority,
    children: FlowChild[],
  ): Promise<void> {
    const parentId = `${run.runId}.${run.generation}`;
    await this.#flows.add({
      name: 'finish',
      queueName: REVIEW_QUEUES.runs,
      data: run,
      opts: { jobId: parentId, ...this.#options('finish', priority) },
      children: children.map((c) => ({
        name: 'document',
        queueName: REVIEW_QUEUES.docs,
        data: { ...run, docId: c.docId, itemIds: c.itemIds } satisfies ReviewJobData<'document'>,
        opts: {
          jobId: `${parentId}.${c.ordinal}.${c.group}`,
          ignoreDependencyOnFailure: true,
          ...this.#options('document', priority),
        },
      })),
    });
  }

  /**
   * Creates or updates the BullMQ job scheduler of a schedule: at each time `cron` (in `tz`) names,
   * it adds a `rerun` job, which starts the schedule's next run.
   */
  async upsertSchedule(scheduleId: string, cron: string, tz: string | undefined, priority: ReviewPriority) {
    await this.runs.upsertJobScheduler(
      scheduleId,
      { pattern: cron, ...(tz ? { tz } : {}) },
      {
        name: 'rerun',
        data: { v: 1, scheduleId } satisfies ReviewJobData<'rerun'>,
        opts: this.#options('rerun', priority),
      },
    );
  }

  /** Removes a schedule's job scheduler (and its next rerun job); resolves whether it was there. */
  removeSchedule(scheduleId: string): Promise<boolean> {
    return this.runs.removeJobScheduler(scheduleId);
  }

  /** When the schedule's next rerun fires, or null when it has no job scheduler. */
  async nextRunAt(scheduleId: string): Promise<Date | null> {
    const scheduler = await this.runs.getJobScheduler(scheduleId);
    return scheduler?.next ? new Date(scheduler.next) : null;
  }

  async close(): Promise<void> {
    await Promise.all([this.runs.close(), this.docs.close(), this.#flows.close()]);
  }

  #options(name: ReviewJobName, priority: ReviewPriority): JobsOptions {
    return {
      ...retryOptions(this.#policies[name].retry),
      priority: QUEUE_PRIORITY[priority],
      removeOnComplete: KEEP_COMPLETED,
      removeOnFail: KEEP_FAILED,
    };
  }
}
