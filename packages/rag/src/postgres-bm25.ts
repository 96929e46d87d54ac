import type { Pool } from 'pg';
import { BM25, type Bm25Params } from './bm25.ts';
import type { UserAccess } from './ports.ts';
import type { ChunkRow } from './postgres-rows.ts';

/** How dense vectors take part in the Postgres ranking (`searchBm25` with a question vector). */
export interface DenseParams {
  /** Weight of the dense similarity (min-max scaled over the candidates) against lexical (scaled by the best). */
  weight: number;
  /** Lexical candidates the dense similarity re-scores, at least the number asked for. */
  pool: number;
}

/**
 * Chosen on the GDPR tuning split: the best recall whose query p95 stayed within 1.5× of the
 * `ts_rank` query's in each of three runs (pool 20: 1.17-1.33×; 30: 1.42-1.76×; 50: 1.48-1.74×).
 */
export const DENSE: Readonly<DenseParams> = Object.freeze({ weight: 1, pool: 20 });

/** A question's vector and the id of the embedder that made it (`Embedder.id`). */
export interface QuestionVector {
  embedder: string;
  vector: readonly number[];
}

/** A synonym of a word of the question (`Thesaurus`), matched below the word itself. */
export interface Synonym {
  word: string;
  synonym: string;
}

/**
 * Synonym pairs one query takes: a tsvector keeps positions up to 16,383 and 256 per lexeme, and
 * the pairs are numbered by position. Pairs of words other than plain ASCII letters are left out, so
 * each word is exactly one position.
 */
export const MAX_SYNONYM_PAIRS = 4000;
const PLAIN_WORD = /^[a-z]+$/;

function synonymPositions(synonyms: readonly Synonym[]): { words: string; synonyms: string } {
  const plain = synonyms
    .filter((s) => PLAIN_WORD.test(s.word) && PLAIN_WORD.test(s.synonym))
    .slice(0, MAX_SYNONYM_PAIRS);
  return { words: plain.map((s) => s.word).join(' '), synonyms: plain.map((s) => s.synonym).join(' ') };
}

/**
 * BM25 over `rag_postings` (migration 1765000000000_rag-bm25.sql), fused with dense similarity
 * when the question has a vector, in one statement:
 *
 * 1. the question's lexemes, by the same text search configuration as the chunks' tsvector, and
 *    the lexemes of its words' synonyms that are not question lexemes themselves;
 * 2. their postings in the tenant, each with its lexeme's document frequency (counted from the
 *    postings read anyway), and the tenant's chunk count and average length from rag_tenant_stats;
 * 3. BM25 per chunk, heading occurrences counted `headingWeight` times, each question lexeme
 *    scoring by the best of itself and its synonyms (theirs times `synonymWeight`), so a synonym
 *    never adds to a word it stands for;
 * 4. only then the chunks the user may see: `tenant = $1 AND (public OR acl && $2)`, the best
 *    `pool` of them by BM25, one primary-key probe each in BM25 order, no document taking more
 *    than half of them while other documents match;
 * 5. phrase credit on those: each pair of consecutive question lexemes found at the same distance
 *    in the chunk (`tsquery_phrase`, so stop words between them count as in the question) adds
 *    `phraseWeight` times the pair's mean IDF;
 * 6. with a question vector, the dense similarity of each candidate whose vector comes from the
 *    same embedder (`rag_chunks.embedding`, migration 1765200000000): the lexical score divided by
 *    the best, plus `dense.weight` times the similarity scaled to 0..1 over the candidates; the best
 *    `limit` are returned.
 *
 * Term statistics are the tenant's, restricted documents included: what a user may not read can
 * move the order of what they may read (as Qdrant's collection-wide IDF does), never show it. The
 * dense side re-scores lexical candidates (Postgres here has no vector index): a chunk sharing no
 * word, synonym included, with the question is not found.
 */
const SEARCH_SQL = `
WITH param AS (
  SELECT $6::float8 AS k1, $7::float8 AS b, $8::float8 AS heading_weight, $9::float8 AS phrase_weight,
         $10::float8 AS synonym_weight, $16::float8 AS dense_weight
),
question AS MATERIALIZED (
  SELECT u.lexeme, p.pos
  FROM unnest(to_tsvector($3::regconfig, $4)) u, unnest(u.positions) p(pos)
),
wanted AS MATERIALIZED (
  SELECT DISTINCT q.lexeme AS source, q.lexeme, 1::float8 AS weight FROM question q
  UNION ALL
  -- $11 and $12 hold the words and their synonyms, one plain word each, the n-th synonym at the
  -- n-th position of $12 standing for the word at the n-th position of $11: two calls of
  -- to_tsvector pair every synonym's lexeme with its word's.
  SELECT DISTINCT s.lexeme, y.lexeme, k.synonym_weight
  FROM (SELECT u.lexeme, p.pos FROM unnest(to_tsvector($3::regconfig, $11)) u, unnest(u.positions) p(pos)) s
  JOIN (SELECT u.lexeme, p.pos FROM unnest(to_tsvector($3::regconfig, $12)) u, unnest(u.positions) p(pos)) y
    USING (pos)
  CROSS JOIN param k
  WHERE s.lexeme IN (SELECT lexeme FROM question) AND y.lexeme NOT IN (SELECT lexeme FROM question)
),
stats AS MATERIALIZED (
  SELECT s.chunks::float8 AS n, greatest(s.total_length::float8 / greatest(s.chunks, 1), 1) AS avgdl
  FROM rag_tenant_stats s WHERE s.tenant = $1
),
posting AS MATERIALIZED (
  -- Each posting with its lexeme's IDF, from the lexeme's postings in the tenant.
  SELECT p.doc_id, p.chunk_index, p.lexeme, p.tf_heading, p.tf_body, p.chunk_length,
         ln(1 + (s.n - count(*) OVER w + 0.5) / (count(*) OVER w + 0.5)) AS idf
  FROM rag_postings p, stats s
  WHERE p.tenant = $1 AND p.lexeme = ANY (ARRAY(SELECT DISTINCT lexeme FROM wanted))
  WINDOW w AS (PARTITION BY p.lexeme)
),
term AS MATERIALIZED (
  SELECT DISTINCT p.lexeme, p.idf FROM posting p
),
scored AS (
  SELECT m.doc_id, m.chunk_index, sum(m.best) AS bm25
  FROM (
    SELECT p.doc_id, p.chunk_index, w.source,
           max(w.weight * p.idf * (f.tf * (k.k1 + 1))
               / (f.tf + k.k1 * (1 - k.b + k.b * p.chunk_length / s.avgdl))) AS best
    FROM posting p
    JOIN wanted w USING (lexeme)
    CROSS JOIN stats s
    CROSS JOIN param k
    CROSS JOIN LATERAL (SELECT k.heading_weight * p.tf_heading + p.tf_body AS tf) f
    GROUP BY p.doc_id, p.chunk_index, w.source
  ) m
  GROUP BY m.doc_id, m.chunk_index
),
ranked AS (
  -- A document's chunks beyond half the pool come after every other document's: one long
  -- document cannot fill the candidates the fusion diversifies from.
  SELECT sc.*, (row_number() OVER (PARTITION BY sc.doc_id ORDER BY sc.bm25 DESC, sc.chunk_index)
                > greatest($13 / 2, 1)) AS overflow
  FROM scored sc
),
visible AS MATERIALIZED (
  SELECT c.tenant, c.doc_id, c.chunk_index, c.title, c.section_path, c.acl, c.public, c.source,
         c.content_hash, c.text, c.token_count, c.start_offset, c.end_offset, c.tsv, sc.bm25,
         CASE WHEN c.embedder = $15 THEN c.embedding END AS embedding
  FROM (SELECT * FROM ranked ORDER BY overflow, bm25 DESC, doc_id, chunk_index) sc
  CROSS JOIN LATERAL (
    -- One primary-key probe per candidate, best first, until the pool is filled (OFFSET 0 keeps
    -- the planner from turning it into a join over every chunk of the tenant).
    SELECT * FROM rag_chunks c
    WHERE c.tenant = $1 AND c.doc_id = sc.doc_id AND c.chunk_index = sc.chunk_index
      AND (c.public OR c.acl && $2::text[])
    OFFSET 0
  ) c
  ORDER BY sc.overflow, sc.bm25 DESC, sc.doc_id, sc.chunk_index
  LIMIT $13
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
),
judged AS MATERIALIZED (
  SELECT v.*,
         v.bm25 + k.phrase_weight * coalesce((SELECT sum(pr.weight) FROM pair pr WHERE v.tsv @@ pr.query), 0)
           AS lexical,
         (SELECT sum(x.a * x.b) FROM unnest(v.embedding, $14::real[]) x(a, b)) AS dense
  FROM visible v, param k
),
fused AS (
  SELECT j.*,
         j.lexical / nullif(max(j.lexical) OVER (), 0)
         + k.dense_weight * coalesce(
             (j.dense - min(j.dense) OVER ()) / nullif(max(j.dense) OVER () - min(j.dense) OVER (), 0), 0)
           AS score
  FROM judged j, param k
)
SELECT f.tenant, f.doc_id, f.chunk_index, f.title, f.section_path, f.acl, f.public, f.source,
       f.content_hash, f.text, f.token_count, f.start_offset, f.end_offset, f.score
FROM fused f
ORDER BY f.score DESC, f.doc_id, f.chunk_index
LIMIT $5`;

/**
 * The `limit` best chunks visible to `access` for `question`, best first. Without `vector` (or
 * without chunk vectors of its embedder) the order is BM25 with phrase credit; with it, the fused
 * order over `dense.pool` lexical candidates. A named statement, so each connection plans it once.
 */
export async function searchBm25(
  pool: Pool,
  opts: {
    access: UserAccess;
    question: string;
    limit: number;
    textSearchConfig: string;
    params?: Bm25Params;
    synonyms?: readonly Synonym[];
    vector?: QuestionVector;
    dense?: DenseParams;
  },
): Promise<ChunkRow[]> {
  const p = opts.params ?? BM25;
  const dense = opts.dense ?? DENSE;
  const synonyms = synonymPositions(opts.synonyms ?? []);
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
      p.synonymWeight,
      synonyms.words,
      synonyms.synonyms,
      opts.vector ? Math.max(opts.limit, dense.pool) : opts.limit,
      opts.vector ? opts.vector.vector : null,
      opts.vector ? opts.vector.embedder : null,
      dense.weight,
    ],
  });
  return res.rows;
}
