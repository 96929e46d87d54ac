import type { ReviewQueues } from './queues.ts';
import type { ReviewStore } from './store.ts';
import type { NewRun } from './store-types.ts';

/**
 * Creates a run and adds the job that starts it. Safe to repeat with the same run id: the run is
 * created once and its start job (its id fixed by the run) added once. A run that could not be
 * queued when this call created it is failed, so no run stays queued for ever. Resolves whether this call created the run.
 */
export async function launchRun(store: ReviewStore, queues: ReviewQueues, run: NewRun): Promise<boolean> {
  const created = await store.createRun(run);
  try {
    await queues.start({ v: 1, runId: run.runId, generation: 1 }, run.priority);
  } catch (err) {
    if (created) await store.finish(run.runId, 1, 'the run could not be queued').catch(() => {});
    throw err;
  }
  return created;
}
