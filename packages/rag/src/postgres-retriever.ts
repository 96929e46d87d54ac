import type { Pool } from 'pg';
import { AclRetriever, type ViolationHandler } from './acl-retriever.ts';
import type {
  ChunkRecord,
  DocumentRecord,
  DocumentSummary,
  ReplaceStatus,
  SearchHit,
  UserAccess,
} from './ports.ts';
import { words } from './terms.ts';

interface ChunkRow {
  tenant: string;
  doc_id: string;
  chunk_index: number;
  title: string;
  section_path: string[];
  acl: string[];
  public: boolean;
  source: string;
  content_hash: string;
  text: string;
  token_count: number;
  start_offset: number;
  end_offset: number;
  score: number;
}

/**
 * An OR of the question's words, for `websearch_to_tsquery`: natural questions rarely share all
 * their words with the passage that answers them, so an AND would find nothing. Ranking then puts
 * passages that match more of the words, and match them in the title or headings (weight A), first.
 */
export function orQuery(question: string): string {
  return [...new Set(words(question))].filter((w) => w !== 'or').join(' or ');
}

/**
 * The embedded default: Postgres full-text search over `rag_chunks` (migration
 * 1764100000001_rag.sql). The visibility rule is in the WHERE clause of the one query that ranks:
 * `tenant = $1 AND (public OR acl && $2)`.
 *
 * Ranking is `ts_rank` (term frequency, log-length normalised), not `ts_rank_cd`: cover density
 * rewards all query terms close together, which an OR query of a whole question rarely has; on the
 * sample eval set ts_rank gives recall@5 0.92 / MRR 0.87 against 0.88 / 0.69 (scripts/bench/rag.ts).
 */
export class PostgresRetriever extends AclRetriever {
  readonly name = 'postgres';
  readonly #pool: Pool;
  readonly #config: string;

  /** `textSearchConfig` must match the one in the migration's generated column (`english`). */
  constructor(opts: { pool: Pool; onViolation?: ViolationHandler; textSearchConfig?: string }) {
    super(opts.onViolation ? { onViolation: opts.onViolation } : {});
    this.#pool = opts.pool;
    this.#config = opts.textSearchConfig ?? 'english';
  }

  protected async searchVisible(access: UserAccess, query: string, k: number): Promise<SearchHit[]> {
    const q = orQuery(query);
    if (!q) return [];
    const res = await this.#pool.query<ChunkRow>(
      `SELECT c.tenant, c.doc_id, c.chunk_index, c.title, c.section_path, c.acl, c.public, c.source,
              c.content_hash, c.text, c.token_count, c.start_offset, c.end_offset,
              ts_rank(c.tsv, q.query, 1) AS score
       FROM rag_chunks c, websearch_to_tsquery($3::regconfig, $4) AS q(query)
       WHERE c.tenant = $1 AND (c.public OR c.acl && $2::text[]) AND c.tsv @@ q.query
       ORDER BY score DESC, c.doc_id, c.chunk_index
       LIMIT $5`,
      [access.tenant, access.groups, this.#config, q, k],
    );
    return res.rows.map((r) => ({ score: Number(r.score), chunk: chunkOfRow(r) }));
  }

  protected async readVisible(access: UserAccess, docId: string): Promise<ChunkRecord[]> {
    const res = await this.#pool.query<ChunkRow>(
      `SELECT c.tenant, c.doc_id, c.chunk_index, c.title, c.section_path, c.acl, c.public, c.source,
              c.content_hash, c.text, c.token_count, c.start_offset, c.end_offset, 0 AS score
       FROM rag_chunks c
       WHERE c.tenant = $1 AND (c.public OR c.acl && $2::text[]) AND c.doc_id = $3
       ORDER BY c.chunk_index`,
      [access.tenant, access.groups, docId],
    );
    return res.rows.map(chunkOfRow);
  }

  protected async replaceChecked(
    doc: DocumentRecord,
    chunks: ChunkRecord[],
  ): Promise<{ status: ReplaceStatus }> {
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      // The upsert takes the document's row lock, so concurrent replaces of one document serialise;
      // an unchanged revision returns no row and nothing is rewritten.
      const up = await client.query<{ inserted: boolean }>(
        `INSERT INTO rag_documents (tenant, doc_id, title, source, acl, public, content_hash, revision, chunk_count)
         VALUES ($1, $2, $3, $4, $5::text[], $6, $7, $8, $9)
         ON CONFLICT (tenant, doc_id) DO UPDATE
           SET title = EXCLUDED.title, source = EXCLUDED.source, acl = EXCLUDED.acl, public = EXCLUDED.public,
               content_hash = EXCLUDED.content_hash, revision = EXCLUDED.revision,
               chunk_count = EXCLUDED.chunk_count, updated_at = now()
           WHERE rag_documents.revision IS DISTINCT FROM EXCLUDED.revision
         RETURNING (xmax = 0) AS inserted`,
        [
          doc.tenant,
          doc.docId,
          doc.title,
          doc.source,
          doc.acl,
          doc.public,
          doc.contentHash,
          doc.revision,
          chunks.length,
        ],
      );
      const row = up.rows[0];
      if (!row) {
        await client.query('COMMIT');
        return { status: 'unchanged' };
      }
      await client.query('DELETE FROM rag_chunks WHERE tenant = $1 AND doc_id = $2', [doc.tenant, doc.docId]);
      if (chunks.length > 0)
        await client.query(
          `INSERT INTO rag_chunks (tenant, doc_id, chunk_index, title, section_path, heading, acl, public, source,
                                   content_hash, text, token_count, start_offset, end_offset)
           SELECT $1, $2, x.chunk_index, x.title, ARRAY(SELECT jsonb_array_elements_text(x.section_path)),
                  x.heading, $3::text[], $4, x.source, x.content_hash, x.text, x.token_count, x.start_offset,
                  x.end_offset
           FROM jsonb_to_recordset($5::jsonb) AS x(chunk_index int, title text, section_path jsonb, heading text,
                source text, content_hash text, text text, token_count int, start_offset int, end_offset int)`,
          [
            doc.tenant,
            doc.docId,
            doc.acl,
            doc.public,
            JSON.stringify(
              chunks.map((c) => ({
                chunk_index: c.chunkIndex,
                title: c.title,
                section_path: c.sectionPath,
                heading: c.sectionPath.join(' > '),
                source: c.source,
                content_hash: c.contentHash,
                text: c.text,
                token_count: c.tokenCount,
                start_offset: c.start,
                end_offset: c.end,
              })),
            ),
          ],
        );
      await client.query('COMMIT');
      return { status: row.inserted ? 'created' : 'replaced' };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  protected async deleteChecked(tenant: string, docId: string): Promise<{ deleted: boolean }> {
    const res = await this.#pool.query('DELETE FROM rag_documents WHERE tenant = $1 AND doc_id = $2', [
      tenant,
      docId,
    ]);
    return { deleted: (res.rowCount ?? 0) > 0 };
  }

  protected async listChecked(
    tenant: string,
    prefix: string,
    after: string | undefined,
    limit: number,
  ): Promise<DocumentSummary[]> {
    // `starts_with` rather than LIKE: a prefix holding `%` or `_` means itself.
    const res = await this.#pool.query<SummaryRow>(
      `SELECT tenant, doc_id, title, acl, public, chunk_count FROM rag_documents
       WHERE tenant = $1 AND starts_with(doc_id, $2) AND ($3::text IS NULL OR doc_id COLLATE "C" > $3)
       ORDER BY doc_id COLLATE "C" LIMIT $4`,
      [tenant, prefix, after ?? null, limit],
    );
    return res.rows.map(summaryOfRow);
  }

  protected async getChecked(tenant: string, docId: string): Promise<DocumentSummary | null> {
    const res = await this.#pool.query<SummaryRow>(
      'SELECT tenant, doc_id, title, acl, public, chunk_count FROM rag_documents WHERE tenant = $1 AND doc_id = $2',
      [tenant, docId],
    );
    return res.rows[0] ? summaryOfRow(res.rows[0]) : null;
  }

  async close(): Promise<void> {}
}

interface SummaryRow {
  tenant: string;
  doc_id: string;
  title: string;
  acl: string[];
  public: boolean;
  chunk_count: number;
}

function summaryOfRow(r: SummaryRow): DocumentSummary {
  return {
    tenant: r.tenant,
    docId: r.doc_id,
    title: r.title,
    acl: r.acl,
    public: r.public,
    chunkCount: r.chunk_count,
  };
}

function chunkOfRow(r: ChunkRow): ChunkRecord {
  return {
    tenant: r.tenant,
    docId: r.doc_id,
    chunkIndex: r.chunk_index,
    title: r.title,
    sectionPath: r.section_path,
    acl: r.acl,
    public: r.public,
    source: r.source,
    contentHash: r.content_hash,
    text: r.text,
    tokenCount: r.token_count,
    start: r.start_offset,
    end: r.end_offset,
  };
}
