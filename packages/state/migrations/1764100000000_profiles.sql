-- Up Migration
-- A user's agent profile. tenant and groups are the only inputs to retrieval filters (guarantee 4);
-- settings holds what later features add (model, tools, double-texting policy) without a migration.
CREATE TABLE profiles (
  user_id      text PRIMARY KEY,
  tenant       text NOT NULL,
  groups       text[] NOT NULL DEFAULT '{}',
  role_context text,
  settings     jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX profiles_tenant ON profiles (tenant);

-- Down Migration
DROP TABLE profiles;
