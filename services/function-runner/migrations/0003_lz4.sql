-- History documents over PostgreSQL's 2 KB toast threshold are compressed on insert;
-- lz4 costs a fraction of the default pglz's CPU. Affects values written from now on.
ALTER TABLE function_runs
  ALTER COLUMN input SET COMPRESSION lz4,
  ALTER COLUMN output SET COMPRESSION lz4,
  ALTER COLUMN logs SET COMPRESSION lz4,
  ALTER COLUMN error SET COMPRESSION lz4;
