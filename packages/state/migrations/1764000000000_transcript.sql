-- Up Migration
CREATE TABLE turns (
  turn_id      text PRIMARY KEY,
  user_id      text NOT NULL,
  seq          bigint NOT NULL,
  thread_id    text,
  status       text NOT NULL CHECK (status IN ('completed', 'failed')),
  error        text,
  enqueued_at  timestamptz NOT NULL,
  started_at   timestamptz,
  completed_at timestamptz NOT NULL,
  recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX turns_user_seq ON turns (user_id, seq);

CREATE TABLE messages (
  id         bigserial PRIMARY KEY,
  turn_id    text NOT NULL REFERENCES turns (turn_id) ON DELETE CASCADE,
  user_id    text NOT NULL,
  seq        bigint NOT NULL,
  idx        smallint NOT NULL,
  role       text NOT NULL CHECK (role IN ('user', 'assistant')),
  content    text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (turn_id, idx)
);
CREATE INDEX messages_user_seq ON messages (user_id, seq, idx);

-- Down Migration
DROP TABLE messages;
DROP TABLE turns;
