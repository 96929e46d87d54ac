-- Up Migration
-- Dense vectors for the embedded Postgres retriever (packages/rag, postgres-retriever.ts): each
-- chunk's vector from the retriever's Embedder (by default word vectors shipped in an npm package,
-- no server), and the id of the embedder that made it. A question's vector is compared only with
-- vectors of the same embedder; a document whose vectors came from another embedder (or none) is
-- rewritten when ingested again, even if its text is unchanged. Postgres here has no vector
-- extension: the vectors are plain arrays, compared with the question's over the lexical candidates.
ALTER TABLE rag_documents ADD COLUMN embedder text;
ALTER TABLE rag_chunks ADD COLUMN embedding real[], ADD COLUMN embedder text;

-- Down Migration
ALTER TABLE rag_chunks DROP COLUMN embedder, DROP COLUMN embedding;
ALTER TABLE rag_documents DROP COLUMN embedder;
