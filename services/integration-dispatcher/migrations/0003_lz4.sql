-- Requests and responses (bodies up to 64 KiB) pass PostgreSQL's 2 KB toast threshold and
-- are compressed on insert; lz4 costs a fraction of the default pglz's CPU. Affects values
-- written from now on.
-- Only where the server was built with lz4 (PostgreSQL 14 and later; Debian's is): elsewhere
-- the columns keep the default compression and everything else works the same.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
    ALTER TABLE history
      ALTER COLUMN request SET COMPRESSION lz4,
      ALTER COLUMN response SET COMPRESSION lz4;
    ALTER TABLE dead_letters ALTER COLUMN job SET COMPRESSION lz4;
    ALTER TABLE records ALTER COLUMN data SET COMPRESSION lz4;
  END IF;
END
$$;
