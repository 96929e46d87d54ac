-- Up Migration
-- Scheduled review runs (packages/review): a schedule reruns a run's checklist over its documents on
-- a cron pattern (a BullMQ job scheduler fires each rerun). A rerun reviews only the documents whose
-- content changed since the previous completed run of its schedule and carries the others' findings.
CREATE TABLE review_schedules (
  schedule_id text PRIMARY KEY,
  user_id     text NOT NULL,
  tenant      text NOT NULL,
  name        text,
  priority    text NOT NULL CHECK (priority IN ('low', 'normal', 'high')),
  checklist   jsonb NOT NULL,
  -- The documents as the first run asked for them (uploads as the docIds they were ingested as).
  spec        jsonb NOT NULL,
  cron        text NOT NULL,
  tz          text,
  created_by  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  -- Set once the schedule is removed: no rerun starts after it.
  removed_at  timestamptz
);
CREATE INDEX review_schedules_created ON review_schedules (created_at DESC, schedule_id DESC);

ALTER TABLE review_runs
  ADD COLUMN schedule_id text REFERENCES review_schedules (schedule_id),
  -- The completed run of the same schedule whose findings this one carries for unchanged documents.
  ADD COLUMN previous_run_id text REFERENCES review_runs (run_id) ON DELETE SET NULL;
CREATE INDEX review_runs_schedule ON review_runs (schedule_id, created_at DESC) WHERE schedule_id IS NOT NULL;

-- For a rerun: `new` (the previous run did not review it), `changed` (its content hash differs), or
-- `unchanged` (same hash: its findings were carried from the previous run, no model was asked).
ALTER TABLE review_documents ADD COLUMN change text CHECK (change IN ('new', 'changed', 'unchanged'));
-- The run whose review produced a carried finding (null for a finding this run produced).
ALTER TABLE review_findings ADD COLUMN carried_from text;

-- Down Migration
ALTER TABLE review_findings DROP COLUMN carried_from;
ALTER TABLE review_documents DROP COLUMN change;
ALTER TABLE review_runs DROP COLUMN previous_run_id, DROP COLUMN schedule_id;
DROP TABLE review_schedules;
