-- Dead letters (dm/service/dead_letters.hpp): items this service accepted but can never
-- process as they are, kept for an operator to see, retry or discard.
CREATE TABLE dead_letters (
  id         uuid PRIMARY KEY,
  kind       text NOT NULL,
  key        text NOT NULL,
  subject    text,
  payload    bytea NOT NULL,
  error      text NOT NULL,
  attempts   integer NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (kind, key)
);
CREATE INDEX dead_letters_kind_created_idx ON dead_letters (kind, created_at DESC);
