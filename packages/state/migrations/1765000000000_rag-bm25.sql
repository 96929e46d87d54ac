-- Up Migration
-- BM25 for the embedded Postgres retriever (packages/rag, postgres-retriever.ts). Postgres has no
-- inverse document frequency in ts_rank, so the retriever keeps what BM25 needs itself:
--   rag_postings      one row per (chunk, lexeme): how often the lexeme occurs in the chunk's title
--                     and headings (weight A of tsv) and in its text (weight B), and the chunk's
--                     length in lexeme occurrences. A term's document frequency is the number of its
--                     postings in the tenant, read from the index at query time.
--   rag_tenant_stats  per tenant: how many chunks, and their total length (for the average).
-- Both are maintained by statement triggers on rag_chunks from the chunks' own tsvector, so every
-- insert and delete (a re-ingest, a document deleted with its chunks by cascade) updates them in the
-- same transaction, whoever writes.
CREATE TABLE rag_postings (
  tenant       text NOT NULL,
  doc_id       text NOT NULL,
  chunk_index  integer NOT NULL,
  lexeme       text NOT NULL,
  tf_heading   integer NOT NULL,
  tf_body      integer NOT NULL,
  chunk_length integer NOT NULL,
  -- Scoring reads the postings of a question's lexemes from this index alone; it leads with the
  -- lexeme so the planner picks it even before the table has statistics. A chunk's postings are
  -- deleted through it too, one probe per lexeme of the chunk's tsvector.
  PRIMARY KEY (tenant, lexeme, doc_id, chunk_index) INCLUDE (tf_heading, tf_body, chunk_length)
);

CREATE TABLE rag_tenant_stats (
  tenant       text PRIMARY KEY,
  chunks       bigint NOT NULL,
  total_length bigint NOT NULL
);

-- A chunk's length for BM25: its lexeme occurrences, title and headings included.
CREATE FUNCTION rag_chunk_length(tsv tsvector) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(sum(cardinality(u.positions)), 0)::integer FROM unnest(tsv) u
$$;

-- The postings of chunk ($1 tenant, $2 doc_id, $3 chunk_index) from its tsvector $4: occurrences per
-- lexeme in the title and headings (weight A) and in the text (the other weights), and its length.
CREATE FUNCTION rag_postings_of(text, text, integer, tsvector)
RETURNS TABLE (tenant text, doc_id text, chunk_index integer, lexeme text, tf_heading integer,
               tf_body integer, chunk_length integer)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT $1, $2, $3, u.lexeme,
         cardinality(array_positions(u.weights, 'A')),
         cardinality(u.weights) - cardinality(array_positions(u.weights, 'A')),
         (sum(cardinality(u.positions)) OVER ())::integer
  FROM unnest($4) u
$$;

CREATE FUNCTION rag_chunks_index() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO rag_postings
      SELECT p.* FROM new_rows c, rag_postings_of(c.tenant, c.doc_id, c.chunk_index, c.tsv) p;
    INSERT INTO rag_tenant_stats AS s (tenant, chunks, total_length)
      SELECT c.tenant, count(*), sum(rag_chunk_length(c.tsv)) FROM new_rows c
      GROUP BY c.tenant ORDER BY c.tenant
    ON CONFLICT (tenant) DO UPDATE
      SET chunks = s.chunks + EXCLUDED.chunks, total_length = s.total_length + EXCLUDED.total_length;
  ELSE
    DELETE FROM rag_postings p USING old_rows o, unnest(o.tsv) u
      WHERE p.tenant = o.tenant AND p.lexeme = u.lexeme AND p.doc_id = o.doc_id
        AND p.chunk_index = o.chunk_index;
    UPDATE rag_tenant_stats s
      SET chunks = s.chunks - d.chunks, total_length = s.total_length - d.total_length
      FROM (
        SELECT o.tenant, count(*) AS chunks, sum(rag_chunk_length(o.tsv)) AS total_length
        FROM old_rows o GROUP BY o.tenant
      ) d
      WHERE s.tenant = d.tenant;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER rag_chunks_index_insert AFTER INSERT ON rag_chunks
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rag_chunks_index();
CREATE TRIGGER rag_chunks_index_delete AFTER DELETE ON rag_chunks
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION rag_chunks_index();

-- Chunks are never updated in place (a re-ingest deletes and inserts): refuse it rather than let
-- the postings fall behind the text.
CREATE FUNCTION rag_chunks_refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'rag_chunks rows are replaced, not updated (delete and insert them)';
END
$$;
CREATE TRIGGER rag_chunks_no_update BEFORE UPDATE ON rag_chunks
  FOR EACH STATEMENT EXECUTE FUNCTION rag_chunks_refuse_update();

-- What is already indexed.
INSERT INTO rag_postings
  SELECT p.* FROM rag_chunks c, rag_postings_of(c.tenant, c.doc_id, c.chunk_index, c.tsv) p;
INSERT INTO rag_tenant_stats (tenant, chunks, total_length)
  SELECT c.tenant, count(*), sum(rag_chunk_length(c.tsv)) FROM rag_chunks c GROUP BY c.tenant;

-- Down Migration
DROP TRIGGER rag_chunks_no_update ON rag_chunks;
DROP TRIGGER rag_chunks_index_delete ON rag_chunks;
DROP TRIGGER rag_chunks_index_insert ON rag_chunks;
DROP FUNCTION rag_chunks_refuse_update();
DROP FUNCTION rag_chunks_index();
DROP FUNCTION rag_postings_of(text, text, integer, tsvector);
DROP FUNCTION rag_chunk_length(tsvector);
DROP TABLE rag_tenant_stats;
DROP TABLE rag_postings;
