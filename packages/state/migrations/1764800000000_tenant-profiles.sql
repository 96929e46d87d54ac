-- Up Migration
CREATE TABLE tenant_profiles (
  tenant       text PRIMARY KEY,
  groups       text[] NOT NULL DEFAULT '{}',
  role_context text,
  settings     jsonb NOT NULL DEFAULT '{}'::jsonb,
  updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE tenant_profiles;
