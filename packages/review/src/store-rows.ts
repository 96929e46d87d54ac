import type { Pool } from 'pg';
import type { Usage } from './finding.ts';
import type { NewRunDocument, RunDocument, RunRecord } from './store-types.ts';

/** Rows of the review tables as the store's records, and back. */

// biome-ignore lint/suspicious/noExplicitAny: a pg row
export function runOf(r: any): RunRecord {
  return {
    runId: r.run_id,
    ...(r.name ? { name: r.name } : {}),
    userId: r.user_id,
    tenant: r.tenant,
    priority: r.priority,
    checklist: r.checklist,
    spec: r.spec,
    createdBy: r.created_by,
    status: r.status,
    generation: r.generation,
    documentsTotal: r.documents_total,
    usage: usageOf(r),
    ...(r.error ? { error: r.error } : {}),
    createdAt: r.created_at,
    ...(r.started_at ? { startedAt: r.started_at } : {}),
    ...(r.finished_at ? { finishedAt: r.finished_at } : {}),
    ...(r.schedule_id ? { scheduleId: r.schedule_id } : {}),
    ...(r.previous_run_id ? { previousRunId: r.previous_run_id } : {}),
  };
}

/** The tokens a run's or a document's row counts (bigint columns come back as strings). */
// biome-ignore lint/suspicious/noExplicitAny: a pg row
function usageOf(r: any): Usage {
  return {
    promptTokens: Number(r.prompt_tokens),
    completionTokens: Number(r.completion_tokens),
    cachedTokens: Number(r.cached_tokens),
    calls: r.model_calls,
  };
}

// biome-ignore lint/suspicious/noExplicitAny: a pg row
export function documentOf(r: any): RunDocument {
  return {
    docId: r.doc_id,
    ordinal: r.ordinal,
    itemsTotal: r.items_total,
    chunkCount: r.chunk_count,
    outcome: r.outcome,
    ...(r.error ? { error: r.error } : {}),
    ...(r.title ? { title: r.title } : {}),
    ...(r.content_hash ? { contentHash: r.content_hash } : {}),
    ...(r.change ? { change: r.change } : {}),
    usage: usageOf(r),
    ...(r.settled_at ? { settledAt: r.settled_at } : {}),
  };
}

export function newDocumentRow(d: NewRunDocument) {
  return {
    doc_id: d.docId,
    ordinal: d.ordinal,
    items_total: d.itemsTotal,
    chunk_count: d.chunkCount,
    outcome: d.outcome ?? null,
    error: d.error ?? null,
    title: d.title ?? null,
  };
}

/**
 * The query of a page of `table` newest first, of one tenant when given: $1 the page size, $2 the
 * id (in `idColumn`) of the last row of the previous page, $3 the tenant.
 */
export function newestFirstPageSql(table: string, idColumn: string, columns: string): string {
  return `SELECT ${columns} FROM ${table} t
       WHERE ($2::text IS NULL OR (t.created_at, t.${idColumn}) <
              (SELECT created_at, ${idColumn} FROM ${table} WHERE ${idColumn} = $2))
         AND ($3::text IS NULL OR t.tenant = $3)
       ORDER BY t.created_at DESC, t.${idColumn} DESC LIMIT $1`;
}

/** A page of `table`'s rows newest first (see `newestFirstPageSql`), of `opts.tenant` when given. */
export async function newestFirstPage(
  pool: Pool,
  table: string,
  idColumn: string,
  columns: string,
  opts: { limit: number; before?: string; tenant?: string },
  // biome-ignore lint/suspicious/noExplicitAny: pg rows
): Promise<any[]> {
  const sql = newestFirstPageSql(table, idColumn, columns);
  return (await pool.query(sql, [opts.limit, opts.before ?? null, opts.tenant ?? null])).rows;
}
