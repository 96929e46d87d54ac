-- Up Migration
-- Documents and their chunks for the embedded Postgres full-text retriever (packages/rag). The
-- registry row is the unit of replacement: re-ingesting a document rewrites its chunks in the same
-- transaction, and deleting the row removes them (ON DELETE CASCADE).
CREATE TABLE rag_documents (
  tenant       text NOT NULL,
  doc_id       text NOT NULL,
  title        text NOT NULL,
  source       text NOT NULL,
  acl          text[] NOT NULL DEFAULT '{}',
  public       boolean NOT NULL DEFAULT false,
  content_hash text NOT NULL,
  -- Hash of content, metadata and chunking options: an unchanged revision is not rewritten.
  revision     text NOT NULL,
  chunk_count  integer NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant, doc_id)
);

CREATE TABLE rag_chunks (
  tenant       text NOT NULL,
  doc_id       text NOT NULL,
  chunk_index  integer NOT NULL,
  title        text NOT NULL,
  section_path text[] NOT NULL DEFAULT '{}',
  -- The section path as one string, so the generated tsvector stays immutable.
  heading      text NOT NULL DEFAULT '',
  acl          text[] NOT NULL DEFAULT '{}',
  public       boolean NOT NULL DEFAULT false,
  source       text NOT NULL,
  content_hash text NOT NULL,
  text         text NOT NULL,
  token_count  integer NOT NULL,
  start_offset integer NOT NULL,
  end_offset   integer NOT NULL,
  tsv tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english'::regconfig, title || ' ' || heading), 'A') ||
    setweight(to_tsvector('english'::regconfig, text), 'B')
  ) STORED,
  -- The primary key's btree leads with tenant: it is the tenant index.
  PRIMARY KEY (tenant, doc_id, chunk_index),
  FOREIGN KEY (tenant, doc_id) REFERENCES rag_documents (tenant, doc_id) ON DELETE CASCADE
);
CREATE INDEX rag_chunks_tsv ON rag_chunks USING gin (tsv);
CREATE INDEX rag_chunks_acl ON rag_chunks USING gin (acl);

-- Down Migration
DROP TABLE rag_chunks;
DROP TABLE rag_documents;
