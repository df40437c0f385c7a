-- Stored events are 2-4 KB, over PostgreSQL's 2 KB toast threshold, so every row is
-- compressed on insert. The default (pglz) took a quarter of the history writer's
-- PostgreSQL CPU; lz4 compresses about as well for JSON at a fraction of the cost.
-- Applies to values written from now on; older rows stay as they are and read the same.
-- Only where the server was built with lz4 (PostgreSQL 14 and later; Debian's is): elsewhere
-- the columns keep the default compression and everything else works the same.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
    ALTER TABLE device_events
      ALTER COLUMN event SET COMPRESSION lz4,
      ALTER COLUMN object SET COMPRESSION lz4,
      ALTER COLUMN data SET COMPRESSION lz4;
  END IF;
END
$$;
