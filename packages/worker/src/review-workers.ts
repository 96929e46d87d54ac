import {
  type FleetConfig,
  type Logger,
  REVIEW_QUEUES,
  type RedisClient,
  reviewQueuePrefix,
} from '@agent-fleet/core';
import type { LlmPool } from '@agent-fleet/llm';
import type { ProfileSource, Retriever } from '@agent-fleet/rag';
import {
  DocumentReviewer,
  dispatchReviewJob,
  type EngineResources,
  ReviewEvents,
  ReviewQueues,
  ReviewScheduleStore,
  ReviewStore,
  recordFinalFailure,
  reviewHandlers,
  reviewJobPolicies,
} from '@agent-fleet/review';
import { Worker } from 'bullmq';
import type { Pool } from 'pg';

/** What the review engine is built from: the worker's own collaborators, shared with turns. */
export interface ReviewWiring {
  config: FleetConfig;
  logger: Logger;
  /** Commands (events, progress). */
  redis: RedisClient;
  /** BullMQ's connection (`maxRetriesPerRequest: null`). */
  connection: RedisClient;
  pool: Pool;
  /** The LLM pool as review runs use it (metered: held against the budgets, counted). */
  llm: Pick<LlmPool, 'chat'>;
  retriever: Retriever;
  profiles: ProfileSource;
}

/** The review engine's resources: one store, the queues, the events and the document reviewer. */
export function createReviewResources(w: ReviewWiring): EngineResources {
  const { config } = w;
  return {
    store: new ReviewStore({ pool: w.pool }),
    schedules: new ReviewScheduleStore({ pool: w.pool }),
    queues: new ReviewQueues({
      connection: w.connection,
      namespace: config.FLEET_NAMESPACE,
      policies: reviewJobPolicies(config),
    }),
    events: new ReviewEvents({ redis: w.redis, namespace: config.FLEET_NAMESPACE }),
    reviewer: new DocumentReviewer(
      { llm: w.llm, retriever: w.retriever, profiles: w.profiles },
      {
        itemsPerCall: config.REVIEW_ITEMS_PER_CALL,
        documentTokens: config.REVIEW_DOCUMENT_TOKENS,
        policyTokens: config.REVIEW_POLICY_TOKENS,
        jsonRetries: config.REVIEW_JSON_RETRIES,
      },
    ),
    retriever: w.retriever,
    profiles: w.profiles,
    logger: w.logger,
    options: {
      itemsPerCall: config.REVIEW_ITEMS_PER_CALL,
      documentTokens: config.REVIEW_DOCUMENT_TOKENS,
      maxDocuments: config.REVIEW_MAX_DOCUMENTS,
    },
  };
}

export interface ReviewWorkers {
  ready(): Promise<void>;
  /** Stops taking review jobs; the ones in flight finish first. */
  close(): Promise<void>;
}

/**
 * BullMQ workers of the review queues, apart from the partition queues: `review.docs` with
 * REVIEW_CONCURRENCY documents in flight per process (model calls at batch priority), and
 * `review.runs` for the runs' start and finish jobs. A job that failed for good is recorded (its
 * run failed, or its document failed) so every run ends and every report is complete.
 */
export function startReviewWorkers(deps: {
  config: FleetConfig;
  logger: Logger;
  bullConnection: RedisClient;
  reviews: EngineResources;
}): ReviewWorkers {
  const { config, logger, reviews } = deps;
  const handlers = reviewHandlers(reviews);
  const policies = reviewJobPolicies(config);
  const start = (queue: string, concurrency: number) => {
    const w = new Worker(queue, (job) => dispatchReviewJob(queue, job, handlers, policies), {
      connection: deps.bullConnection,
      prefix: reviewQueuePrefix(config.FLEET_NAMESPACE),
      concurrency,
      lockDuration: config.JOB_LOCK_MS,
      stalledInterval: config.STALLED_INTERVAL_MS,
      maxStalledCount: config.MAX_STALLED_COUNT,
    });
    w.on('error', (err) => logger.warn({ err: err.message, queue }, 'review worker error'));
    w.on('failed', (job, err) => {
      if (!job) return;
      if (job.finishedOn === undefined) {
        logger.warn(
          { queue, jobId: job.id, attempt: job.attemptsMade, reason: err.message },
          'review job failed; it will be tried again',
        );
        return;
      }
      logger.warn({ queue, jobId: job.id, reason: err.message }, 'review job failed for good');
      recordFinalFailure(reviews, queue, job, err.message).catch((e: unknown) =>
        logger.warn({ err: (e as Error).message, jobId: job.id }, 'could not record a failed review job'),
      );
    });
    return w;
  };
  const workers = [start(REVIEW_QUEUES.docs, config.REVIEW_CONCURRENCY), start(REVIEW_QUEUES.runs, 2)];
  return {
    async ready() {
      await Promise.all(workers.map((w) => w.waitUntilReady()));
    },
    async close() {
      await Promise.all(workers.map((w) => w.close()));
    },
  };
}
