import type { Logger } from '@agent-fleet/core';
import type { ProfileSource, Retriever } from '@agent-fleet/rag';
import type { ReviewEvents } from './events.ts';
import type { ReviewQueues } from './queues.ts';
import type { DocumentReviewer } from './reviewer.ts';
import type { DocumentOutcome } from './statuses.ts';
import type { ReviewStore } from './store.ts';

/** What the engine's parts (start, document, finish) share, built once per worker process. */
export interface EngineResources {
  store: ReviewStore;
  queues: ReviewQueues;
  events: ReviewEvents;
  reviewer: DocumentReviewer;
  retriever: Retriever;
  profiles: ProfileSource;
  logger: Logger;
  options: {
    itemsPerCall: number;
    documentTokens: number;
    maxDocuments: number;
  };
}

/**
 * Tells watchers a document was settled: a `progress` event with the run's counts after it, and the
 * same counts as the progress of the run's flow parent (Bull Board shows it). Best effort: the
 * outcome is already durable, so a failure here is logged, never retried.
 */
export async function announceSettled(
  r: EngineResources,
  run: { runId: string; generation: number },
  docId: string,
  outcome: DocumentOutcome,
): Promise<void> {
  try {
    const [progress, record] = await Promise.all([r.store.progress(run.runId), r.store.getRun(run.runId)]);
    const tokens = record?.usage ?? { promptTokens: 0, completionTokens: 0, cachedTokens: 0, calls: 0 };
    await r.events.publish(run.runId, { type: 'progress', docId, outcome, ...progress, tokens });
    const parent = await r.queues.runs.getJob(`${run.runId}.${run.generation}`);
    await parent?.updateProgress({ done: progress.documents.done, total: progress.documents.total });
  } catch (err) {
    r.logger.warn(
      { err: (err as Error).message, runId: run.runId, docId },
      'could not announce a settled document',
    );
  }
}
