import {
  accessFor,
  DEFAULT_CHUNKING,
  type DocumentSummary,
  MissingAccessError,
  type UserAccess,
  visibleTo,
} from '@agent-fleet/rag';
import type { ReviewJobData } from './jobs.ts';
import type { FlowChild } from './queues.ts';
import { announceSettledAtStart, type EngineResources } from './resources.ts';
import type { DocumentOutcome } from './statuses.ts';
import type { NewRunDocument, RunRecord } from './store.ts';

/** Tokens a chunk adds to a document on average (its size less the overlap with the next). */
const TOKENS_PER_CHUNK = DEFAULT_CHUNKING.maxTokens - DEFAULT_CHUNKING.overlapTokens;

/**
 * The `start` job of a run's generation: on the first generation it resolves the run's documents
 * (as given, or the selector's listing) and settles at once those that need no model (not found,
 * not permitted, uploads that failed to parse); then it adds the flow: one child per pending
 * document, or per group of items for a long one. Safe to run again: documents are added once and
 * the flow's job ids are fixed by run, generation and document.
 */
export async function startRun(
  r: EngineResources,
  data: ReviewJobData<'start'>,
): Promise<{ children: number }> {
  const run = await r.store.getRun(data.runId);
  if (!run || run.generation !== data.generation || !(await r.store.markRunning(run.runId, run.generation)))
    return { children: 0 };
  await r.events.publish(run.runId, { type: 'status', status: 'running', generation: run.generation });
  if (run.documentsTotal === 0) {
    const refused = await resolveDocuments(r, run);
    if (refused) {
      if (await r.store.finish(run.runId, run.generation, refused))
        await r.events.publish(run.runId, { type: 'status', status: 'failed', generation: run.generation });
      return { children: 0 };
    }
  }
  const pending = await r.store.documents(run.runId, { pending: true });
  const itemIds = run.checklist.items.map((i) => i.id);
  const children: FlowChild[] = pending.flatMap((d) => {
    const long = d.chunkCount * TOKENS_PER_CHUNK > r.options.documentTokens;
    const groups = long ? chunk(itemIds, r.options.itemsPerCall) : [itemIds];
    return groups.map((ids, group) => ({ docId: d.docId, ordinal: d.ordinal, group, itemIds: ids }));
  });
  await r.queues.addFlow({ v: 1, runId: run.runId, generation: run.generation }, run.priority, children);
  return { children: children.length };
}

/** Adds the run's documents; returns why the run cannot go on (a selector matching too many), or null. */
async function resolveDocuments(r: EngineResources, run: RunRecord): Promise<string | null> {
  const items = run.checklist.items.length;
  const access = await accessFor(r.profiles, run.userId).catch((err: unknown) => {
    if (err instanceof MissingAccessError) return null;
    throw err;
  });
  const planned: NewRunDocument[] = [];
  const add = (docId: string, summary: DocumentSummary | null) =>
    planned.push({
      docId,
      ordinal: planned.length,
      itemsTotal: items,
      chunkCount: summary?.chunkCount ?? 0,
      ...outcomeBeforeReview(access, summary),
    });
  if ('selector' in run.spec) {
    const selected = await listSelected(r, run.spec.selector);
    if (selected.length > r.options.maxDocuments)
      return `the selector matches more than ${r.options.maxDocuments} documents (REVIEW_MAX_DOCUMENTS); narrow docIdPrefix`;
    for (const summary of selected) add(summary.docId, summary);
  } else {
    for (const docId of new Set(run.spec.documents))
      add(docId, await r.retriever.getDocument(run.tenant, docId));
    for (const failed of run.spec.failedUploads ?? [])
      planned.push({
        docId: failed.docId,
        ordinal: planned.length,
        itemsTotal: items,
        chunkCount: 0,
        outcome: 'failed',
        error: failed.error,
        title: failed.title,
      });
  }
  await r.store.addDocuments(run.runId, planned);
  await announceSettledAtStart(r, run.runId, planned);
  return null;
}

/** Not found, not permitted (never reaches a model), or nothing: it is reviewed. */
function outcomeBeforeReview(
  access: UserAccess | null,
  summary: DocumentSummary | null,
): { outcome?: DocumentOutcome; title?: string } {
  if (!summary) return { outcome: 'not_found' };
  if (!access || !visibleTo(access, summary)) return { outcome: 'not_permitted' };
  return { title: summary.title };
}

async function listSelected(
  r: EngineResources,
  selector: { tenant: string; docIdPrefix?: string },
): Promise<DocumentSummary[]> {
  const out: DocumentSummary[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await r.retriever.listDocuments(selector.tenant, {
      ...(selector.docIdPrefix ? { prefix: selector.docIdPrefix } : {}),
      ...(after ? { after } : {}),
      limit: 1000,
    });
    out.push(...page);
    if (page.length < 1000 || out.length > r.options.maxDocuments) break;
    after = page[page.length - 1]!.docId;
  }
  return out;
}

function chunk<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}
