-- Up Migration
-- A tenant's share of the fleet and its token budgets (GET/PUT /v1/tenants/:tenant/quota, fleet quotas).
-- Redis holds a copy the workers refresh (QUOTA_SYNC_INTERVAL_MS); limits are tokens per UTC window,
-- null for none.
CREATE TABLE tenant_quotas (
  tenant           text PRIMARY KEY,
  weight           double precision NOT NULL DEFAULT 1 CHECK (weight > 0),
  day_limit        bigint CHECK (day_limit > 0),
  month_limit      bigint CHECK (month_limit > 0),
  -- What each user of the tenant may use unless they have a quota of their own.
  user_day_limit   bigint CHECK (user_day_limit > 0),
  user_month_limit bigint CHECK (user_month_limit > 0),
  soft_threshold   double precision NOT NULL DEFAULT 0.8 CHECK (soft_threshold > 0 AND soft_threshold <= 1),
  updated_at       timestamptz NOT NULL DEFAULT now()
);

-- A user's own token budgets, in place of their tenant's per-user ones.
CREATE TABLE user_quotas (
  user_id     text PRIMARY KEY,
  day_limit   bigint CHECK (day_limit > 0),
  month_limit bigint CHECK (month_limit > 0),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Token usage as the model servers reported it, for GET /v1/usage. A turn has one row per kind of
-- call (chat, summary, embedding) and model, holding the turn's totals so far: a write gives a row
-- the totals it read from the turn's hot record, and a row never shrinks, so writing again after a
-- crash or a redelivery changes nothing. A review run's calls have one row each (source_id: the
-- call's id). recorded_at is when the row was first written: the day usage counts under.
CREATE TABLE usage_ledger (
  source            text NOT NULL CHECK (source IN ('turn', 'review')),
  source_id         text NOT NULL,
  kind              text NOT NULL CHECK (kind IN ('chat', 'summary', 'embedding', 'review')),
  model             text NOT NULL,
  tenant            text NOT NULL,
  user_id           text,
  recorded_at       timestamptz NOT NULL DEFAULT now(),
  prompt_tokens     bigint NOT NULL,
  completion_tokens bigint NOT NULL,
  cached_tokens     bigint NOT NULL,
  calls             integer NOT NULL,
  PRIMARY KEY (source, source_id, kind, model)
);
CREATE INDEX usage_ledger_tenant ON usage_ledger (tenant, recorded_at);
CREATE INDEX usage_ledger_user ON usage_ledger (user_id, recorded_at);
CREATE INDEX usage_ledger_recorded ON usage_ledger (recorded_at);

-- Down Migration
DROP TABLE usage_ledger;
DROP TABLE user_quotas;
DROP TABLE tenant_quotas;
