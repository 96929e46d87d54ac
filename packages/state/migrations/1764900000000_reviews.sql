-- Up Migration
-- Batch document-review runs (packages/review). A run is reviewed by a BullMQ flow; this is its
-- durable record. Each document's outcome and each (run, document, item) finding is written once:
-- redelivered jobs, a SIGKILLed worker and cancel-then-resume never record a document twice.
CREATE TABLE review_runs (
  run_id            text PRIMARY KEY,
  name              text,
  user_id           text NOT NULL,
  -- The user's tenant when the run was created (whose documents a selector lists).
  tenant            text NOT NULL,
  priority          text NOT NULL CHECK (priority IN ('low', 'normal', 'high')),
  status            text NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
  -- Bumped by every resume: jobs of an earlier generation stop at their next step.
  generation        integer NOT NULL DEFAULT 1,
  checklist         jsonb NOT NULL,
  -- The documents as asked for: { documents: [docId, ...] } or { selector: { tenant, docIdPrefix? } }.
  spec              jsonb NOT NULL,
  documents_total   integer NOT NULL DEFAULT 0,
  -- Token usage the servers reported on every model call of the run (duplicate deliveries included).
  prompt_tokens     bigint NOT NULL DEFAULT 0,
  completion_tokens bigint NOT NULL DEFAULT 0,
  cached_tokens     bigint NOT NULL DEFAULT 0,
  model_calls       integer NOT NULL DEFAULT 0,
  error             text,
  created_by        text NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT now(),
  started_at        timestamptz,
  finished_at       timestamptz
);
CREATE INDEX review_runs_created ON review_runs (created_at DESC, run_id DESC);
CREATE INDEX review_runs_user ON review_runs (user_id, created_at DESC);

CREATE TABLE review_documents (
  run_id            text NOT NULL REFERENCES review_runs (run_id) ON DELETE CASCADE,
  doc_id            text NOT NULL,
  -- Order of the document in the run (as given, or by docId for a selector).
  ordinal           integer NOT NULL,
  items_total       integer NOT NULL,
  -- Chunks of the document when the run started: a long one is reviewed per group of items.
  chunk_count       integer NOT NULL DEFAULT 0,
  -- Null until settled; then written once.
  outcome           text CHECK (outcome IN ('reviewed', 'not_permitted', 'not_found', 'failed')),
  error             jsonb,
  title             text,
  -- sha256 of the document text reviewed: an incremental rerun skips documents whose hash is unchanged.
  content_hash      text,
  prompt_tokens     bigint NOT NULL DEFAULT 0,
  completion_tokens bigint NOT NULL DEFAULT 0,
  cached_tokens     bigint NOT NULL DEFAULT 0,
  model_calls       integer NOT NULL DEFAULT 0,
  settled_at        timestamptz,
  PRIMARY KEY (run_id, doc_id)
);
CREATE INDEX review_documents_pending ON review_documents (run_id, ordinal) WHERE outcome IS NULL;

CREATE TABLE review_findings (
  run_id      text NOT NULL,
  doc_id      text NOT NULL,
  item_id     text NOT NULL,
  verdict     text NOT NULL CHECK (verdict IN ('compliant', 'non_compliant', 'not_applicable', 'unclear')),
  -- Why a finding is `unclear` when the model did not say so itself.
  reason      text CHECK (reason IN ('unverifiable_evidence', 'invalid_output')),
  evidence    jsonb NOT NULL,
  rationale   text NOT NULL,
  confidence  real NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, doc_id, item_id),
  FOREIGN KEY (run_id, doc_id) REFERENCES review_documents (run_id, doc_id) ON DELETE CASCADE
);

-- Down Migration
DROP TABLE review_findings;
DROP TABLE review_documents;
DROP TABLE review_runs;
