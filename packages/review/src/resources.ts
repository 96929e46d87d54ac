import type { Logger } from '@agent-fleet/core';
import type { ProfileSource, Retriever } from '@agent-fleet/rag';
import type { ReviewEvents } from './events.ts';
import type { ReviewQueues } from './queues.ts';
import type { DocumentReviewer } from './reviewer.ts';
import type { ReviewScheduleStore } from './schedule-store.ts';
import type { DocumentOutcome } from './statuses.ts';
import type { OnSettled, ReviewStore } from './store.ts';

/** What the engine's parts (start, document, finish) share, built once per worker process. */
export interface EngineResources {
  store: ReviewStore;
  schedules: ReviewScheduleStore;
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
 * Tells watchers the documents a run's start settled at once (not found, not permitted, failed
 * uploads): one `progress` event each, with the run's counts after all of them.
 */
export async function announceSettledAtStart(
  r: EngineResources,
  runId: string,
  docs: readonly { docId: string; outcome?: DocumentOutcome }[],
): Promise<void> {
  const settled = docs.filter((d) => d.outcome !== undefined);
  if (settled.length === 0) return;
  try {
    const [progress, record] = await Promise.all([r.store.progress(runId), r.store.getRun(runId)]);
    const tokens = record?.usage ?? { promptTokens: 0, completionTokens: 0, cachedTokens: 0, calls: 0 };
    for (const d of settled)
      await r.events.publish(runId, {
        type: 'progress',
        docId: d.docId,
        outcome: d.outcome!,
        ...progress,
        tokens,
      });
  } catch (err) {
    r.logger.warn({ err: (err as Error).message, runId }, 'could not announce documents settled at start');
  }
}

/**
 * What tells watchers a document was settled, given to the store's write: a `progress` event with
 * the run's counts after it (written while the store holds the run's row, so counts only grow), and
 * the same counts as the progress of the run's flow parent (Bull Board shows it). Best effort: the
 * outcome is durable whatever happens here, so a failure is logged, never retried.
 */
export function announcer(
  r: EngineResources,
  run: { runId: string; generation: number },
  docId: string,
  outcome: DocumentOutcome,
): OnSettled {
  return async ({ usage, ...progress }) => {
    try {
      await r.events.publish(run.runId, { type: 'progress', docId, outcome, ...progress, tokens: usage });
      const parent = await r.queues.runs.getJob(`${run.runId}.${run.generation}`);
      await parent?.updateProgress({ done: progress.documents.done, total: progress.documents.total });
    } catch (err) {
      r.logger.warn(
        { err: (err as Error).message, runId: run.runId, docId },
        'could not announce a settled document',
      );
    }
  };
}
