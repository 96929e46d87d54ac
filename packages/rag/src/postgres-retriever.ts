import type { Pool } from 'pg';
import { AclRetriever, type ViolationHandler } from './acl-retriever.ts';
import { BM25, type Bm25Params } from './bm25.ts';
import type { FusionParams } from './fusion.ts';
import { indexText } from './hashing.ts';
import type {
  ChunkRecord,
  DocumentRecord,
  DocumentSummary,
  Embedder,
  ReplaceStatus,
  SearchHit,
  Thesaurus,
  UserAccess,
} from './ports.ts';
import { DENSE, type DenseParams, type QuestionVector, type Synonym, searchBm25 } from './postgres-bm25.ts';
import { type ChunkRow, chunkOfRow } from './postgres-rows.ts';
import { words } from './terms.ts';

/** At most this many synonyms of one question word reach the query, in the thesaurus's order. */
export const SYNONYMS_PER_WORD = 32;

/**
 * The embedded default: BM25 over Postgres full-text lexemes (`searchBm25`, migration
 * 1765000000000_rag-bm25.sql): real IDF from the tenant's term statistics, length normalisation,
 * title and headings weighted above the text, credit for question words found as a phrase; with a
 * `thesaurus`, synonyms of the question's words matched below the words themselves; with an
 * `embedder`, each chunk's vector stored beside it (migration 1765200000000) and the lexical
 * candidates re-scored by their similarity to the question's. The visibility rule is in the WHERE
 * clause of the query that ranks, before any limit: `tenant = $1 AND (public OR acl && $2)`.
 */
export class PostgresRetriever extends AclRetriever {
  readonly name = 'postgres';
  readonly #pool: Pool;
  readonly #config: string;
  readonly #params: Bm25Params;
  readonly #dense: DenseParams;
  readonly #embedder: Embedder | undefined;
  readonly #thesaurus: Thesaurus | undefined;
  readonly #synonymsPerWord: number;
  readonly #onClose: (() => void | Promise<void>) | undefined;

  /**
   * `textSearchConfig` must match the one in the migration's generated column (`english`);
   * `params`, `dense` and `fusion` exist for experiments and tests: the defaults are what the
   * embedded default ranks with. Without an `embedder` no vectors are written or compared; without
   * a `thesaurus` only the question's own words match.
   */
  constructor(opts: {
    pool: Pool;
    onViolation?: ViolationHandler;
    textSearchConfig?: string;
    params?: Bm25Params;
    fusion?: FusionParams;
    embedder?: Embedder;
    thesaurus?: Thesaurus;
    /** Synonyms of one question word the query takes ({@link SYNONYMS_PER_WORD}). */
    synonymsPerWord?: number;
    dense?: DenseParams;
    /** Called by `close()`: releases what was built for this retriever (an embeddings pool). */
    onClose?: () => void | Promise<void>;
  }) {
    super(opts);
    this.#pool = opts.pool;
    this.#config = opts.textSearchConfig ?? 'english';
    this.#params = opts.params ?? BM25;
    this.#dense = opts.dense ?? DENSE;
    this.#embedder = opts.embedder;
    this.#thesaurus = opts.thesaurus;
    this.#synonymsPerWord = opts.synonymsPerWord ?? SYNONYMS_PER_WORD;
    this.#onClose = opts.onClose;
  }

  protected async searchVisible(access: UserAccess, query: string, n: number): Promise<SearchHit[]> {
    const [synonyms, vector] = await Promise.all([this.#synonymsOf(query), this.#vectorOf(query)]);
    const rows = await searchBm25(this.#pool, {
      access,
      question: query,
      limit: n,
      textSearchConfig: this.#config,
      params: this.#params,
      synonyms,
      dense: this.#dense,
      ...(vector ? { vector } : {}),
    });
    return rows.map((r) => ({ score: Number(r.score), chunk: chunkOfRow(r) }));
  }

  async #synonymsOf(query: string): Promise<Synonym[]> {
    const thesaurus = this.#thesaurus;
    if (!thesaurus) return [];
    const unique = [...new Set(words(query))];
    const found = await Promise.all(unique.map((w) => thesaurus.synonyms(w)));
    return unique.flatMap((word, i) =>
      found[i]!.slice(0, this.#synonymsPerWord).map((synonym) => ({ word, synonym })),
    );
  }

  async #vectorOf(query: string): Promise<QuestionVector | undefined> {
    if (!this.#embedder) return undefined;
    const [vector] = await this.#embedder.embed([query]);
    return vector ? { embedder: this.#embedder.id, vector } : undefined;
  }

  /** Each chunk's vector as stored (`indexText`, as Qdrant embeds it), or nulls without an embedder. */
  async #chunkVectors(chunks: ChunkRecord[]): Promise<(number[] | null)[]> {
    if (!this.#embedder || chunks.length === 0) return chunks.map(() => null);
    return this.#embedder.embed(chunks.map(indexText));
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
    const vectors = await this.#chunkVectors(chunks);
    const embedder = this.#embedder?.id ?? null;
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      // The upsert takes the document's row lock, so concurrent replaces of one document serialise;
      // an unchanged revision embedded by the same embedder returns no row and nothing is rewritten.
      const up = await client.query<{ inserted: boolean }>(
        `INSERT INTO rag_documents (tenant, doc_id, title, source, acl, public, content_hash, revision, chunk_count,
                                    embedder)
         VALUES ($1, $2, $3, $4, $5::text[], $6, $7, $8, $9, $10)
         ON CONFLICT (tenant, doc_id) DO UPDATE
           SET title = EXCLUDED.title, source = EXCLUDED.source, acl = EXCLUDED.acl, public = EXCLUDED.public,
               content_hash = EXCLUDED.content_hash, revision = EXCLUDED.revision,
               chunk_count = EXCLUDED.chunk_count, embedder = EXCLUDED.embedder, updated_at = now()
           WHERE rag_documents.revision IS DISTINCT FROM EXCLUDED.revision
              OR rag_documents.embedder IS DISTINCT FROM EXCLUDED.embedder
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
          embedder,
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
                                   content_hash, text, token_count, start_offset, end_offset, embedding, embedder)
           SELECT $1, $2, x.chunk_index, x.title, ARRAY(SELECT jsonb_array_elements_text(x.section_path)),
                  x.heading, $3::text[], $4, x.source, x.content_hash, x.text, x.token_count, x.start_offset,
                  x.end_offset,
                  CASE WHEN x.embedding IS NULL THEN NULL
                       ELSE ARRAY(SELECT e.v::real FROM jsonb_array_elements_text(x.embedding) WITH ORDINALITY e(v, i)
                                  ORDER BY e.i) END,
                  CASE WHEN x.embedding IS NULL THEN NULL ELSE $6 END
           FROM jsonb_to_recordset($5::jsonb) AS x(chunk_index int, title text, section_path jsonb, heading text,
                source text, content_hash text, text text, token_count int, start_offset int, end_offset int,
                embedding jsonb)`,
          [
            doc.tenant,
            doc.docId,
            doc.acl,
            doc.public,
            JSON.stringify(
              chunks.map((c, i) => ({
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
                embedding: vectors[i],
              })),
            ),
            embedder,
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

  async close(): Promise<void> {
    await this.#onClose?.();
  }
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
