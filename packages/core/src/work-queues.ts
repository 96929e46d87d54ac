import { INTAKE_QUEUE, intakeQueuePrefix } from './intake.ts';
import { partitionQueueName, partitionQueuePrefix, REVIEW_QUEUES, reviewQueuePrefix } from './keys.ts';

/**
 * The Prometheus gauge of each work queue's backlog, `fleet_queue_backlog{queue}`: the gateway
 * exports it, KEDA's query sums it, and the local autoscaler reads the same numbers from Redis.
 */
export const BACKLOG_METRIC = 'fleet_queue_backlog';

/**
 * The gauge of how long the job each work queue runs next has waited, `fleet_queue_oldest_waiting_seconds{queue}`:
 * what the backlog alert fires on, next to the backlog on the dashboard.
 */
export const OLDEST_WAITING_METRIC = 'fleet_queue_oldest_waiting_seconds';

/**
 * The job states a queue's backlog counts: jobs waiting (plain and prioritized), delayed jobs whose
 * time has come (a retry's backoff or a parked turn's safety delay that has run out; only a worker
 * promotes them, so with no worker running they would otherwise go unseen), and jobs being run.
 * Delayed jobs still in their delay are not work yet and are left out: a parked turn holds no slot.
 */
export const BACKLOG_STATES = ['waiting', 'prioritized', 'delayedReady', 'active'] as const;
export type BacklogState = (typeof BACKLOG_STATES)[number];

export type WorkQueueKind = 'partition' | 'intake' | 'review';

/** A BullMQ queue the workers drain. */
export interface WorkQueue {
  name: string;
  /** BullMQ prefix: the namespace and the queue's own hash tag. */
  prefix: string;
  kind: WorkQueueKind;
}

/**
 * Every queue the workers drain, the one catalogue that the backlog signal, the gateway's gauge,
 * the local autoscaler and the generated KEDA query all read: the partition queues
 * `agent.p0..p{P-1}`, the intake queue, and the review queues (every entry of REVIEW_QUEUES, so a
 * review queue added there is counted, exported and scaled on from then on). `review.runs` counts
 * too: its start jobs create a run's document jobs, so a fleet at zero workers must wake for them.
 */
export function workQueues(namespace: string, partitions: number): WorkQueue[] {
  return [
    ...Array.from({ length: partitions }, (_, i) => ({
      name: partitionQueueName(i),
      prefix: partitionQueuePrefix(namespace, i),
      kind: 'partition' as const,
    })),
    { name: INTAKE_QUEUE, prefix: intakeQueuePrefix(namespace), kind: 'intake' },
    ...Object.values(REVIEW_QUEUES).map((name) => ({
      name,
      prefix: reviewQueuePrefix(namespace),
      kind: 'review' as const,
    })),
  ];
}
