-- Up Migration
ALTER TABLE turns ADD COLUMN citations jsonb;

-- Down Migration
ALTER TABLE turns DROP COLUMN citations;
