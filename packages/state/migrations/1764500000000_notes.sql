-- Up Migration
CREATE TABLE notes (
  id         bigserial PRIMARY KEY,
  user_id    text NOT NULL,
  turn_id    text NOT NULL,
  call_id    text NOT NULL,
  text       text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (turn_id, call_id)
);
CREATE INDEX notes_user ON notes (user_id, id DESC);

-- Down Migration
DROP TABLE notes;
