import type { Pool, PoolClient } from 'pg';
import { type Finding, noUsage, type Usage } from './finding.ts';
import type { DocumentOutcome, ReviewStatus } from './statuses.ts';
import { lockedRunUsage, progressOf, runUsageUpdate } from './store-progress.ts';
import { documentOf, newDocumentRow, newestFirstPage, runOf } from './store-rows.ts';
import type {
  DocumentError,
  NewRun,
  NewRunDocument,
  OnSettled,
  RunDocument,
  RunProgress,
  RunRecord,
  StoredFinding,
} from './store-types.ts';

export type * from './store-types.ts';

const RUN_COLUMNS = `run_id, name, user_id, tenant, priority, status, generation, checklist, spec, documents_total,
  prompt_tokens, completion_tokens, cached_tokens, model_calls, error, created_by, created_at, started_at, finished_at,
  schedule_id, previous_run_id`;

/**
 * Review runs, their documents and findings in Postgres (migration 1764900000000_reviews.sql).
 * Guarantees: a document's outcome and each (run, document, item) finding are written once (the
 * first writer wins; later deliveries change nothing), writes about one document are serialised by
 * a lock on its row, and a run's status moves only along queued → running → completed | failed,
 * with cancelled ⇄ (resume) queued, each transition checked in its UPDATE.
 */
export class ReviewStore {
  readonly #pool: Pool;

  constructor(opts: { pool: Pool }) {
    this.#pool = opts.pool;
  }

  /** Creates the run; resolves false (changing nothing) when a run with its id exists already. */
  async createRun(run: NewRun): Promise<boolean> {
    const res = await this.#pool.query(
      `INSERT INTO review_runs (run_id, name, user_id, tenant, priority, status, checklist, spec, created_by,
                                schedule_id, previous_run_id)
       VALUES ($1, $2, $3, $4, $5, 'queued', $6, $7, $8, $9, $10) ON CONFLICT (run_id) DO NOTHING`,
      [
        run.runId,
        run.name ?? null,
        run.userId,
        run.tenant,
        run.priority,
        JSON.stringify(run.checklist),
        JSON.stringify(run.spec),
        run.createdBy,
        run.scheduleId ?? null,
        run.previousRunId ?? null,
      ],
    );
    return (res.rowCount ?? 0) > 0;
  }

  async getRun(runId: string): Promise<RunRecord | null> {
    const res = await this.#pool.query(`SELECT ${RUN_COLUMNS} FROM review_runs WHERE run_id = $1`, [runId]);
    return res.rows[0] ? runOf(res.rows[0]) : null;
  }

  /** Runs newest first, of one tenant when given; `before` is the cursor (the last runId of the previous page). */
  async listRuns(opts: { limit: number; before?: string; tenant?: string }): Promise<RunRecord[]> {
    return (await newestFirstPage(this.#pool, 'review_runs', 'run_id', RUN_COLUMNS, opts)).map(runOf);
  }

  /**
   * Adds the run's documents (ignoring ones already there) and sets its total, in one statement; a
   * document given an outcome here (not found, not permitted, failed to parse) is settled at once.
   */
  async addDocuments(runId: string, docs: NewRunDocument[]): Promise<void> {
    await this.#pool.query(
      `WITH added AS (
         INSERT INTO review_documents (run_id, doc_id, ordinal, items_total, chunk_count, outcome, error, title, settled_at)
         SELECT $1, x.doc_id, x.ordinal, x.items_total, x.chunk_count, x.outcome, x.error, x.title,
                CASE WHEN x.outcome IS NULL THEN NULL ELSE now() END
         FROM jsonb_to_recordset($2::jsonb) AS x(doc_id text, ordinal int, items_total int, chunk_count int,
              outcome text, error jsonb, title text)
         ON CONFLICT (run_id, doc_id) DO NOTHING RETURNING 1)
       UPDATE review_runs SET documents_total =
         (SELECT count(*) FROM review_documents WHERE run_id = $1) + (SELECT count(*) FROM added)
       WHERE run_id = $1`,
      [runId, JSON.stringify(docs.map(newDocumentRow))],
    );
  }

  /** The run's documents, in run order; `pending` only those without an outcome. */
  async documents(runId: string, opts: { pending?: boolean } = {}): Promise<RunDocument[]> {
    const res = await this.#pool.query(
      `SELECT doc_id, ordinal, items_total, chunk_count, outcome, error, title, content_hash, change, prompt_tokens,
              completion_tokens, cached_tokens, model_calls, settled_at
       FROM review_documents WHERE run_id = $1 AND ($2::boolean IS FALSE OR outcome IS NULL) ORDER BY ordinal`,
      [runId, opts.pending === true],
    );
    return res.rows.map(documentOf);
  }

  /** Ids of the document's items that have a finding already. */
  async itemsDone(runId: string, docId: string): Promise<Set<string>> {
    const res = await this.#pool.query<{ item_id: string }>(
      'SELECT item_id FROM review_findings WHERE run_id = $1 AND doc_id = $2',
      [runId, docId],
    );
    return new Set(res.rows.map((r) => r.item_id));
  }

  /**
   * Records findings (each once) and their usage; settles the document `reviewed` when every item
   * has its finding. Resolves `settled: true` only for the call that settled it.
   */
  async recordFindings(
    runId: string,
    docId: string,
    facts: { title: string; contentHash: string },
    findings: Finding[],
    usage: Usage,
    onSettled?: OnSettled,
  ): Promise<{ settled: boolean }> {
    return this.#inDocument(runId, docId, usage, onSettled, async (client, row) => {
      if (row.outcome !== null) return false;
      await client.query(
        `INSERT INTO review_findings (run_id, doc_id, item_id, verdict, reason, evidence, rationale, confidence)
         SELECT $1, $2, x.item_id, x.verdict, x.reason, x.evidence, x.rationale, x.confidence
         FROM jsonb_to_recordset($3::jsonb) AS x(item_id text, verdict text, reason text, evidence jsonb,
              rationale text, confidence real)
         ON CONFLICT (run_id, doc_id, item_id) DO NOTHING`,
        [
          runId,
          docId,
          JSON.stringify(
            findings.map((f) => ({
              item_id: f.itemId,
              verdict: f.verdict,
              reason: f.reason ?? null,
              evidence: f.evidence,
              rationale: f.rationale,
              confidence: f.confidence,
            })),
          ),
        ],
      );
      return this.#settleIfComplete(client, runId, docId, facts);
    });
  }

  /**
   * On a rerun, before its document is reviewed: when `fromRunId` reviewed the same content (equal
   * content hash), copies its findings for `itemIds` (each once, naming the run that produced it) and
   * marks the document `unchanged`, settling it `reviewed` once every item has its finding; otherwise
   * marks it `new` or `changed` and copies nothing. Resolves the item ids that now have a carried
   * finding: the caller reviews only the others.
   */
  async carryFindings(
    runId: string,
    docId: string,
    fromRunId: string,
    facts: { title: string; contentHash: string },
    itemIds: readonly string[],
    onSettled?: OnSettled,
  ): Promise<{ settled: boolean; carried: string[] }> {
    let carried: string[] = [];
    const { settled } = await this.#inDocument(runId, docId, noUsage(), onSettled, async (client, row) => {
      if (row.outcome !== null) return false;
      const before = await client.query<{ outcome: string | null; content_hash: string | null }>(
        'SELECT outcome, content_hash FROM review_documents WHERE run_id = $1 AND doc_id = $2',
        [fromRunId, docId],
      );
      const previous = before.rows[0];
      const same = previous?.outcome === 'reviewed' && previous.content_hash === facts.contentHash;
      if (!same) {
        await client.query('UPDATE review_documents SET change = $3 WHERE run_id = $1 AND doc_id = $2', [
          runId,
          docId,
          previous?.content_hash && previous.content_hash !== facts.contentHash ? 'changed' : 'new',
        ]);
        return false;
      }
      const copied = await client.query<{ item_id: string }>(
        `INSERT INTO review_findings (run_id, doc_id, item_id, verdict, reason, evidence, rationale, confidence, carried_from)
         SELECT $1, doc_id, item_id, verdict, reason, evidence, rationale, confidence, coalesce(carried_from, $3)
         FROM review_findings WHERE run_id = $3 AND doc_id = $2 AND item_id = ANY($4::text[])
         ON CONFLICT (run_id, doc_id, item_id) DO NOTHING RETURNING item_id`,
        [runId, docId, fromRunId, itemIds],
      );
      carried = copied.rows.map((r) => r.item_id);
      return this.#settleIfComplete(client, runId, docId, facts, 'unchanged');
    });
    return { settled, carried };
  }

  /** Settles a document with an outcome other than `reviewed`, once; `settled` says whether this call did. */
  async settleDocument(
    runId: string,
    docId: string,
    outcome: Exclude<DocumentOutcome, 'reviewed'>,
    usage: Usage,
    error?: DocumentError,
    onSettled?: OnSettled,
  ): Promise<{ settled: boolean }> {
    return this.#inDocument(runId, docId, usage, onSettled, async (client, row) => {
      if (row.outcome !== null) return false;
      await client.query(
        `UPDATE review_documents SET outcome = $3, error = $4, settled_at = now() WHERE run_id = $1 AND doc_id = $2`,
        [runId, docId, outcome, error ? JSON.stringify(error) : null],
      );
      return true;
    });
  }

  /** Adds usage that produced nothing to record (a call cut short by a cancel) to the run. */
  async addUsage(runId: string, usage: Usage): Promise<void> {
    if (usage.calls === 0) return;
    await this.#pool.query(runUsageUpdate, [
      runId,
      usage.promptTokens,
      usage.completionTokens,
      usage.cachedTokens,
      usage.calls,
    ]);
  }

  progress(runId: string): Promise<RunProgress> {
    return progressOf(this.#pool, runId);
  }

  /** Every finding of the run, in document order (items in no particular order within a document). */
  async findings(runId: string): Promise<StoredFinding[]> {
    const res = await this.#pool.query(
      `SELECT f.doc_id, f.item_id, f.verdict, f.reason, f.evidence, f.rationale, f.confidence, f.carried_from
       FROM review_findings f JOIN review_documents d USING (run_id, doc_id)
       WHERE f.run_id = $1 ORDER BY d.ordinal`,
      [runId],
    );
    return res.rows.map((r) => ({
      docId: r.doc_id,
      itemId: r.item_id,
      verdict: r.verdict,
      ...(r.reason ? { reason: r.reason } : {}),
      evidence: r.evidence,
      rationale: r.rationale,
      confidence: Number(r.confidence),
      ...(r.carried_from ? { carriedFrom: r.carried_from } : {}),
    }));
  }

  /** queued → running for the current generation; false when the run is elsewhere (cancelled, resumed). */
  async markRunning(runId: string, generation: number): Promise<boolean> {
    const res = await this.#pool.query(
      `UPDATE review_runs SET status = 'running', started_at = coalesce(started_at, now())
       WHERE run_id = $1 AND generation = $2 AND status IN ('queued', 'running')`,
      [runId, generation],
    );
    return (res.rowCount ?? 0) > 0;
  }

  /** running → completed (or failed with `error`) for the current generation; false when not running it. */
  async finish(runId: string, generation: number, error?: string): Promise<boolean> {
    const res = await this.#pool.query(
      `UPDATE review_runs SET status = $3, error = $4, finished_at = now()
       WHERE run_id = $1 AND generation = $2 AND status IN ('queued', 'running')`,
      [runId, generation, error === undefined ? 'completed' : 'failed', error ?? null],
    );
    return (res.rowCount ?? 0) > 0;
  }

  /** queued | running → cancelled; `changed` says whether this call cancelled it (null: no such run). */
  async cancel(runId: string): Promise<{ changed: boolean; status: ReviewStatus } | null> {
    const res = await this.#pool.query(
      `UPDATE review_runs SET status = 'cancelled', finished_at = now()
       WHERE run_id = $1 AND status IN ('queued', 'running')`,
      [runId],
    );
    if ((res.rowCount ?? 0) > 0) return { changed: true, status: 'cancelled' };
    const state = await this.state(runId);
    return state ? { changed: false, status: state.status } : null;
  }

  /** cancelled → queued with the next generation; resolves that generation, or null when not cancelled. */
  async resume(runId: string): Promise<number | null> {
    const res = await this.#pool.query<{ generation: number }>(
      `UPDATE review_runs SET status = 'queued', generation = generation + 1, finished_at = NULL, error = NULL
       WHERE run_id = $1 AND status = 'cancelled' RETURNING generation`,
      [runId],
    );
    return res.rows[0]?.generation ?? null;
  }

  /** The run's status and generation, for a job deciding whether to go on. */
  async state(runId: string): Promise<{ status: ReviewStatus; generation: number } | null> {
    const res = await this.#pool.query<{ status: ReviewStatus; generation: number }>(
      'SELECT status, generation FROM review_runs WHERE run_id = $1',
      [runId],
    );
    return res.rows[0] ?? null;
  }

  /** Records the document's title and hash (and change), settling it `reviewed` once every item has a finding. */
  async #settleIfComplete(
    client: PoolClient,
    runId: string,
    docId: string,
    facts: { title: string; contentHash: string },
    change?: 'unchanged',
  ): Promise<boolean> {
    const res = await client.query(
      `UPDATE review_documents d SET title = $3, content_hash = $4, change = coalesce($5, d.change),
         outcome = CASE WHEN (SELECT count(*) FROM review_findings f WHERE f.run_id = $1 AND f.doc_id = $2)
                             >= d.items_total THEN 'reviewed' END,
         settled_at = CASE WHEN (SELECT count(*) FROM review_findings f WHERE f.run_id = $1 AND f.doc_id = $2)
                             >= d.items_total THEN now() END
       WHERE run_id = $1 AND doc_id = $2 RETURNING outcome`,
      [runId, docId, facts.title, facts.contentHash, change ?? null],
    );
    return res.rows[0]?.outcome === 'reviewed';
  }

  /**
   * Runs `fn` holding the document's row lock, and adds `usage` to the document and the run. When
   * `fn` settled the document, `onSettled` hears the run's counts and usage while the run's row is
   * locked too: settles of one run are announced one at a time, in order, so the counts watchers see
   * only grow.
   */
  async #inDocument(
    runId: string,
    docId: string,
    usage: Usage,
    onSettled: OnSettled | undefined,
    fn: (client: PoolClient, row: { outcome: DocumentOutcome | null }) => Promise<boolean>,
  ): Promise<{ settled: boolean }> {
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      const row = await client.query<{ outcome: DocumentOutcome | null }>(
        'SELECT outcome FROM review_documents WHERE run_id = $1 AND doc_id = $2 FOR UPDATE',
        [runId, docId],
      );
      if (!row.rows[0]) throw new Error(`run ${runId} has no document ${docId}`);
      const settled = await fn(client, row.rows[0]);
      const u = [usage.promptTokens, usage.completionTokens, usage.cachedTokens, usage.calls];
      if (usage.calls > 0) {
        await client.query(
          `UPDATE review_documents SET prompt_tokens = prompt_tokens + $3, completion_tokens = completion_tokens + $4,
             cached_tokens = cached_tokens + $5, model_calls = model_calls + $6 WHERE run_id = $1 AND doc_id = $2`,
          [runId, docId, ...u],
        );
        await client.query(runUsageUpdate, [runId, ...u]);
      }
      if (settled && onSettled)
        await onSettled({ ...(await progressOf(client, runId)), usage: await lockedRunUsage(client, runId) });
      await client.query('COMMIT');
      return { settled };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }
}
