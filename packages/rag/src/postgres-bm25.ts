import type { Pool } from 'pg';
import { BM25, type Bm25Params } from './bm25.ts';
import type { UserAccess } from './ports.ts';
import type { ChunkRow } from './postgres-rows.ts';

/**
 * BM25 over `rag_postings` (migration 1765000000000_rag-bm25.sql), in one statement:
 *
 * 1. the question's lexemes, by the same text search configuration as the chunks' tsvector;
 * 2. their postings in the tenant, each with its lexeme's document frequency (counted from the
 *    postings read anyway), and the tenant's chunk count and average length from rag_tenant_stats;
 * 3. BM25 per chunk, heading occurrences counted `headingWeight` times;
 * 4. only then the chunks the user may see: `tenant = $1 AND (public OR acl && $2)`, the best
 *    `limit` of them by BM25, one primary-key probe each in BM25 order, no document taking more
 *    than half of them while other documents match;
 * 5. phrase credit on those: each pair of consecutive question lexemes found at the same distance
 *    in the chunk (`tsquery_phrase`, so stop words between them count as in the question) adds
 *    `phraseWeight` times the pair's mean IDF.
 *
 * Term statistics are the tenant's, restricted documents included: what a user may not read can
 * move the order of what they may read (as Qdrant's collection-wide IDF does), never show it.
 */
const SEARCH_SQL = `
WITH param AS (
  SELECT $6::float8 AS k1, $7::float8 AS b, $8::float8 AS heading_weight, $9::float8 AS phrase_weight
),
question AS MATERIALIZED (
  SELECT u.lexeme, p.pos
  FROM unnest(to_tsvector($3::regconfig, $4)) u, unnest(u.positions) p(pos)
),
stats AS MATERIALIZED (
  SELECT s.chunks::float8 AS n, greatest(s.total_length::float8 / greatest(s.chunks, 1), 1) AS avgdl
  FROM rag_tenant_stats s WHERE s.tenant = $1
),
posting AS MATERIALIZED (
  SELECT p.doc_id, p.chunk_index, p.lexeme, p.tf_heading, p.tf_body, p.chunk_length
  FROM rag_postings p
  WHERE p.tenant = $1 AND p.lexeme = ANY (ARRAY(SELECT DISTINCT lexeme FROM question))
),
term AS MATERIALIZED (
  SELECT p.lexeme, ln(1 + (s.n - count(*) + 0.5) / (count(*) + 0.5)) AS idf
  FROM posting p, stats s GROUP BY p.lexeme, s.n
),
scored AS (
  SELECT p.doc_id, p.chunk_index,
         sum(t.idf * (f.tf * (k.k1 + 1)) / (f.tf + k.k1 * (1 - k.b + k.b * p.chunk_length / s.avgdl))) AS bm25
  FROM posting p
  JOIN term t USING (lexeme)
  CROSS JOIN stats s
  CROSS JOIN param k
  CROSS JOIN LATERAL (SELECT k.heading_weight * p.tf_heading + p.tf_body AS tf) f
  GROUP BY p.doc_id, p.chunk_index
),
ranked AS (
  -- A document's chunks beyond half the limit come after every other document's: one long
  -- document cannot fill the candidates the fusion diversifies from.
  SELECT sc.*, (row_number() OVER (PARTITION BY sc.doc_id ORDER BY sc.bm25 DESC, sc.chunk_index)
                > greatest($5 / 2, 1)) AS overflow
  FROM scored sc
),
visible AS MATERIALIZED (
  SELECT c.tenant, c.doc_id, c.chunk_index, c.title, c.section_path, c.acl, c.public, c.source,
         c.content_hash, c.text, c.token_count, c.start_offset, c.end_offset, c.tsv, sc.bm25
  FROM (SELECT * FROM ranked ORDER BY overflow, bm25 DESC, doc_id, chunk_index) sc
  CROSS JOIN LATERAL (
    -- One primary-key probe per candidate, best first, until the limit is reached (OFFSET 0 keeps
    -- the planner from turning it into a join over every chunk of the tenant).
    SELECT * FROM rag_chunks c
    WHERE c.tenant = $1 AND c.doc_id = sc.doc_id AND c.chunk_index = sc.chunk_index
      AND (c.public OR c.acl && $2::text[])
    OFFSET 0
  ) c
  ORDER BY sc.overflow, sc.bm25 DESC, sc.doc_id, sc.chunk_index
  LIMIT $5
),
pair AS MATERIALIZED (
  SELECT tsquery_phrase(plainto_tsquery('simple', a.lexeme), plainto_tsquery('simple', a.next), a.gap) AS query,
         (ta.idf + tb.idf) / 2 AS weight
  FROM (
    SELECT lexeme, lead(lexeme) OVER w AS next, lead(pos) OVER w - pos AS gap
    FROM question WINDOW w AS (ORDER BY pos)
  ) a
  JOIN term ta ON ta.lexeme = a.lexeme
  JOIN term tb ON tb.lexeme = a.next
  WHERE a.lexeme <> a.next
)
SELECT v.tenant, v.doc_id, v.chunk_index, v.title, v.section_path, v.acl, v.public, v.source,
       v.content_hash, v.text, v.token_count, v.start_offset, v.end_offset,
       v.bm25 + k.phrase_weight * coalesce((SELECT sum(pr.weight) FROM pair pr WHERE v.tsv @@ pr.query), 0)
         AS score
FROM visible v, param k
ORDER BY score DESC, v.doc_id, v.chunk_index
LIMIT $5`;

/**
 * The `limit` best chunks visible to `access` for `question`, best first: the best `limit` by
 * BM25, reordered by their phrase credit. A named statement, so each connection plans it once.
 */
export async function searchBm25(
  pool: Pool,
  opts: {
    access: UserAccess;
    question: string;
    limit: number;
    textSearchConfig: string;
    params?: Bm25Params;
  },
): Promise<ChunkRow[]> {
  const p = opts.params ?? BM25;
  const res = await pool.query<ChunkRow>({
    name: 'rag_bm25_search',
    text: SEARCH_SQL,
    values: [
      opts.access.tenant,
      opts.access.groups,
      opts.textSearchConfig,
      opts.question,
      opts.limit,
      p.k1,
      p.b,
      p.headingWeight,
      p.phraseWeight,
    ],
  });
  return res.rows;
}
