-- The path is written once per flow run and only ever read back whole: json keeps the
-- text as written (validated, not converted to jsonb's binary form), which is cheaper
-- for PostgreSQL on the hot write path.
ALTER TABLE flow_runs ALTER COLUMN path TYPE json USING path::json;
