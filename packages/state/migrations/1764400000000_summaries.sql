-- Up Migration
CREATE TABLE summaries (
  user_id    text NOT NULL,
  up_to_seq  bigint NOT NULL,
  summary    text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, up_to_seq)
);

-- Down Migration
DROP TABLE summaries;
