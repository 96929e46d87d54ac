import type { PoolClient } from 'pg';
import type { Usage } from './finding.ts';
import type { DocumentOutcome, Verdict } from './statuses.ts';
import type { RunProgress } from './store-types.ts';

/** Adds usage ($2..$5: prompt, completion, cached tokens, calls) to run $1. */
export const runUsageUpdate = `UPDATE review_runs SET prompt_tokens = prompt_tokens + $2, completion_tokens = completion_tokens + $3,
  cached_tokens = cached_tokens + $4, model_calls = model_calls + $5 WHERE run_id = $1`;

export type Queryable = Pick<PoolClient, 'query'>;

/** Documents by outcome and findings by verdict, read with `q` (a pool, or a client inside a transaction). */
export async function progressOf(q: Queryable, runId: string): Promise<RunProgress> {
  const docs = await q.query<{ outcome: DocumentOutcome | null; n: string }>(
    'SELECT outcome, count(*) AS n FROM review_documents WHERE run_id = $1 GROUP BY outcome',
    [runId],
  );
  const verdicts = await q.query<{ verdict: Verdict; n: string }>(
    'SELECT verdict, count(*) AS n FROM review_findings WHERE run_id = $1 GROUP BY verdict',
    [runId],
  );
  const documents = { total: 0, done: 0, reviewed: 0, not_permitted: 0, not_found: 0, failed: 0 };
  for (const r of docs.rows) {
    documents.total += Number(r.n);
    if (r.outcome !== null) {
      documents.done += Number(r.n);
      documents[r.outcome] += Number(r.n);
    }
  }
  const counts = { compliant: 0, non_compliant: 0, not_applicable: 0, unclear: 0 };
  for (const r of verdicts.rows) counts[r.verdict] = Number(r.n);
  return { documents, verdicts: counts };
}

/** The run's usage as its row holds it, read with `q` (locks the row against other settles). */
export async function lockedRunUsage(q: Queryable, runId: string): Promise<Usage> {
  const run = await q.query(
    'SELECT prompt_tokens, completion_tokens, cached_tokens, model_calls FROM review_runs WHERE run_id = $1 FOR NO KEY UPDATE',
    [runId],
  );
  const r = run.rows[0];
  return {
    promptTokens: Number(r?.prompt_tokens ?? 0),
    completionTokens: Number(r?.completion_tokens ?? 0),
    cachedTokens: Number(r?.cached_tokens ?? 0),
    calls: Number(r?.model_calls ?? 0),
  };
}
