-- Stored events are 2-4 KB, over PostgreSQL's 2 KB toast threshold, so every row is
-- compressed on insert. The default (pglz) took a quarter of the history writer's
-- PostgreSQL CPU; lz4 compresses about as well for JSON at a fraction of the cost.
-- Applies to values written from now on; older rows stay as they are and read the same.
ALTER TABLE device_events
  ALTER COLUMN event SET COMPRESSION lz4,
  ALTER COLUMN object SET COMPRESSION lz4,
  ALTER COLUMN data SET COMPRESSION lz4;
