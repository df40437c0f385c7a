-- Request and response of each attempt are written once and only ever read back whole:
-- json keeps the text as written (validated, not converted to jsonb's binary form),
-- which is cheaper for PostgreSQL on the hot write path.
ALTER TABLE history
  ALTER COLUMN request TYPE json USING request::json,
  ALTER COLUMN response TYPE json USING response::json;
