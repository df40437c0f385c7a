-- Requests and responses (bodies up to 64 KiB) pass PostgreSQL's 2 KB toast threshold and
-- are compressed on insert; lz4 costs a fraction of the default pglz's CPU. Affects values
-- written from now on.
ALTER TABLE history
  ALTER COLUMN request SET COMPRESSION lz4,
  ALTER COLUMN response SET COMPRESSION lz4;
ALTER TABLE dead_letters ALTER COLUMN job SET COMPRESSION lz4;
ALTER TABLE records ALTER COLUMN data SET COMPRESSION lz4;
