-- Up Migration
-- API keys of services. A key reads fk_<id>_<secret>: only the SHA-256 of the secret is stored (the
-- secret is 256 random bits, so a fast hash is enough), and the key itself is shown once, at creation.
-- scopes: messages:write, turns:read, documents:write, reviews, admin. tenant, when set, confines the
-- key to that tenant's documents. act_as_users lets the key call the per-user routes for any user.
CREATE TABLE api_keys (
  id           text PRIMARY KEY,
  name         text NOT NULL,
  secret_hash  bytea NOT NULL,
  scopes       text[] NOT NULL,
  tenant       text,
  act_as_users boolean NOT NULL DEFAULT false,
  created_at   timestamptz NOT NULL DEFAULT now(),
  revoked_at   timestamptz
);

-- Down Migration
DROP TABLE api_keys;
