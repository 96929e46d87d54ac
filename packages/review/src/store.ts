import type { Pool, PoolClient } from 'pg';
import type { Checklist } from './checklist.ts';
import type { Finding, Usage } from './finding.ts';
import type { DocumentOutcome, ReviewPriority, ReviewStatus, Verdict } from './statuses.ts';
import { documentOf, newDocumentRow, runOf } from './store-rows.ts';

/** An upload of the run that could not be ingested: reported failed with its error. */
export interface FailedUpload {
  docId: string;
  title: string;
  error: DocumentError;
}

/** The documents a run was asked to review, as given (uploads as the docIds they were ingested as). */
export type RunSpec =
  | { documents: string[]; failedUploads?: FailedUpload[] }
  | { selector: { tenant: string; docIdPrefix?: string } };

export interface NewRun {
  runId: string;
  name?: string;
  userId: string;
  tenant: string;
  priority: ReviewPriority;
  checklist: Checklist;
  spec: RunSpec;
  createdBy: string;
}

export interface RunRecord extends NewRun {
  status: ReviewStatus;
  generation: number;
  documentsTotal: number;
  usage: Usage;
  error?: string;
  createdAt: Date;
  startedAt?: Date;
  finishedAt?: Date;
}

export interface DocumentError {
  code: string;
  reason?: string;
  message: string;
}

export interface RunDocument {
  docId: string;
  ordinal: number;
  itemsTotal: number;
  chunkCount: number;
  outcome: DocumentOutcome | null;
  error?: DocumentError;
  title?: string;
  contentHash?: string;
  usage: Usage;
  settledAt?: Date;
}

/** A document as a run's start adds it; one with an outcome is settled at once. */
export interface NewRunDocument {
  docId: string;
  ordinal: number;
  itemsTotal: number;
  chunkCount: number;
  outcome?: DocumentOutcome;
  error?: DocumentError;
  title?: string;
}

export interface StoredFinding extends Finding {
  docId: string;
}

/** Told of the run's counts and usage right after a document settled (see `ReviewStore`). */
export type OnSettled = (state: RunProgress & { usage: Usage }) => Promise<void>;

/** Counts for the status view: documents by outcome, findings by verdict. */
export interface RunProgress {
  documents: { total: number; done: number } & Record<DocumentOutcome, number>;
  verdicts: Record<Verdict, number>;
}

const RUN_COLUMNS = `run_id, name, user_id, tenant, priority, status, generation, checklist, spec, documents_total,
  prompt_tokens, completion_tokens, cached_tokens, model_calls, error, created_by, created_at, started_at, finished_at`;

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

  async createRun(run: NewRun): Promise<void> {
    await this.#pool.query(
      `INSERT INTO review_runs (run_id, name, user_id, tenant, priority, status, checklist, spec, created_by)
       VALUES ($1, $2, $3, $4, $5, 'queued', $6, $7, $8)`,
      [
        run.runId,
        run.name ?? null,
        run.userId,
        run.tenant,
        run.priority,
        JSON.stringify(run.checklist),
        JSON.stringify(run.spec),
        run.createdBy,
      ],
    );
  }

  async getRun(runId: string): Promise<RunRecord | null> {
    const res = await this.#pool.query(`SELECT ${RUN_COLUMNS} FROM review_runs WHERE run_id = $1`, [runId]);
    return res.rows[0] ? runOf(res.rows[0]) : null;
  }

  /** Runs newest first, of one tenant when given; `before` is the cursor (the last runId of the previous page). */
  async listRuns(opts: { limit: number; before?: string; tenant?: string }): Promise<RunRecord[]> {
    const res = await this.#pool.query(
      `SELECT ${RUN_COLUMNS} FROM review_runs r
       WHERE ($2::text IS NULL OR (r.created_at, r.run_id) <
              (SELECT created_at, run_id FROM review_runs WHERE run_id = $2))
         AND ($3::text IS NULL OR r.tenant = $3)
       ORDER BY r.created_at DESC, r.run_id DESC LIMIT $1`,
      [opts.limit, opts.before ?? null, opts.tenant ?? null],
    );
    return res.rows.map(runOf);
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
      `SELECT doc_id, ordinal, items_total, chunk_count, outcome, error, title, content_hash, prompt_tokens,
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
      const res = await client.query(
        `UPDATE review_documents d SET title = $3, content_hash = $4,
           outcome = CASE WHEN (SELECT count(*) FROM review_findings f WHERE f.run_id = $1 AND f.doc_id = $2)
                               >= d.items_total THEN 'reviewed' END,
           settled_at = CASE WHEN (SELECT count(*) FROM review_findings f WHERE f.run_id = $1 AND f.doc_id = $2)
                               >= d.items_total THEN now() END
         WHERE run_id = $1 AND doc_id = $2 RETURNING outcome`,
        [runId, docId, facts.title, facts.contentHash],
      );
      return res.rows[0]?.outcome === 'reviewed';
    });
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
      `SELECT f.doc_id, f.item_id, f.verdict, f.reason, f.evidence, f.rationale, f.confidence
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
      if (settled && onSettled) {
        const run = await client.query(
          'SELECT prompt_tokens, completion_tokens, cached_tokens, model_calls FROM review_runs WHERE run_id = $1 FOR NO KEY UPDATE',
          [runId],
        );
        const r = run.rows[0];
        await onSettled({
          ...(await progressOf(client, runId)),
          usage: {
            promptTokens: Number(r?.prompt_tokens ?? 0),
            completionTokens: Number(r?.completion_tokens ?? 0),
            cachedTokens: Number(r?.cached_tokens ?? 0),
            calls: Number(r?.model_calls ?? 0),
          },
        });
      }
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

const runUsageUpdate = `UPDATE review_runs SET prompt_tokens = prompt_tokens + $2, completion_tokens = completion_tokens + $3,
  cached_tokens = cached_tokens + $4, model_calls = model_calls + $5 WHERE run_id = $1`;

type Queryable = Pick<PoolClient, 'query'>;

/** Documents by outcome and findings by verdict, read with `q` (a pool, or a client inside a transaction). */
async function progressOf(q: Queryable, runId: string): Promise<RunProgress> {
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
