-- Up Migration
ALTER TABLE turns DROP CONSTRAINT turns_status_check;
ALTER TABLE turns ADD CONSTRAINT turns_status_check
  CHECK (status IN ('completed', 'failed', 'cancelled', 'interrupted'));

-- Down Migration
ALTER TABLE turns DROP CONSTRAINT turns_status_check;
ALTER TABLE turns ADD CONSTRAINT turns_status_check CHECK (status IN ('completed', 'failed', 'cancelled'));
