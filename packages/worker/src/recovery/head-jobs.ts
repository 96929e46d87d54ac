import type { TurnJob } from '@agent-fleet/core';
import type { PartitionQueues, TurnControl, TurnRecords } from '@agent-fleet/turns';
import type { Job } from 'bullmq';
import { decideRecovery, type HeadView } from './decide.ts';

/** The collaborators head jobs need, and only those. */
export interface HeadJobsPorts {
  partitions: Pick<PartitionQueues, 'getJob' | 'add'>;
  records: Pick<TurnRecords, 'ensure' | 'recoveries' | 'addRecovery'>;
  control: Pick<TurnControl, 'isCancelled'>;
  /** Gives a parked job its priority for going back into the queue (fair queueing); best effort. */
  requeue?: (job: Job<TurnJob>) => Promise<void>;
}

/** A head's job as found, and the view recovery decides from. */
export interface InspectedHead {
  view: HeadView;
  job: Job<TurnJob> | undefined;
}

/** The ways to get a head's job going that need no recording. */
export type StartAction = 'add' | 'promote' | 'retry';

/**
 * The job of a user's next turn (the head) in its partition queue: what state it is in, and how to
 * get it going. Used by the finisher to wake the next turn, and by repairs of turns left behind.
 */
export class HeadJobs {
  readonly #ports: HeadJobsPorts;

  constructor(ports: HeadJobsPorts) {
    this.#ports = ports;
  }

  async inspect(head: TurnJob, now = Date.now()): Promise<InspectedHead> {
    const { partitions, control, records } = this.#ports;
    const job = await partitions.getJob(head.userId, head.turnId);
    const [state, cancelled, recoveries] = await Promise.all([
      job ? job.getState() : Promise.resolve('missing' as const),
      control.isCancelled(head.userId, head.turnId),
      records.recoveries(head.userId, head.turnId),
    ]);
    const view: HeadView = {
      state: state === 'unknown' ? 'missing' : state,
      ageMs: now - head.enqueuedAt,
      cancelled,
      recoveries,
      ...(job?.failedReason ? { failedReason: job.failedReason } : {}),
    };
    return { view, job };
  }

  /**
   * Add the head's job again from its payload (removing a finished job left under its id), take it
   * out of `delayed`, or run its failed job again with its attempts given back (counted, so
   * recovery gives up on a job that keeps failing).
   */
  async start(head: TurnJob, action: StartAction, job: Job<TurnJob> | undefined): Promise<void> {
    const { partitions, records } = this.#ports;
    if (action === 'add' || !job) {
      if (job) await job.remove().catch(() => {});
      await records.ensure(head);
      await partitions.add(head);
    } else if (action === 'promote') {
      await this.#ports.requeue?.(job).catch(() => {});
      await job.promote().catch(() => {});
    } else {
      await records.addRecovery(head.userId, head.turnId);
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    }
  }

  /**
   * Tags a head whose job still waits untagged at the back (fair queueing: it was accepted behind
   * other turns of its user, and the wake that tags it was lost with a worker): it queues as if it
   * arrived now. True when it was such a head.
   */
  async requeueDeferred(job: Job<TurnJob>): Promise<boolean> {
    if (!job.data?.fair?.deferred || !this.#ports.requeue) return false;
    await this.#ports.requeue(job);
    return true;
  }

  /**
   * The head's predecessor just finished: get the head going. The common case (parked in
   * `delayed`) costs a lookup and a promote; a missing job is added, a failed one run again. A
   * stuck head that must be recorded (cancelled, dead) is left to the recovery sweep.
   */
  async wake(head: TurnJob): Promise<void> {
    const job = await this.#ports.partitions.getJob(head.userId, head.turnId);
    if (!job) return this.start(head, 'add', undefined);
    try {
      await this.#ports.requeue?.(job).catch(() => {});
      await job.promote();
      return;
    } catch {
      // Not delayed: waiting or running already, or failed.
    }
    if ((await job.getState()) !== 'failed') return;
    const { view } = await this.inspect(head);
    if (decideRecovery(view, 0).kind === 'retry') await this.start(head, 'retry', job);
  }
}
