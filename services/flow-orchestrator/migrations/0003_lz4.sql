-- A long path can pass PostgreSQL's 2 KB toast threshold and be compressed on insert;
-- lz4 costs a fraction of the default pglz's CPU. Affects values written from now on.
-- Only where the server was built with lz4 (PostgreSQL 14 and later; Debian's is): elsewhere
-- the columns keep the default compression and everything else works the same.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
    ALTER TABLE flow_runs ALTER COLUMN path SET COMPRESSION lz4;
  END IF;
END
$$;
