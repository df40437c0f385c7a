-- A long path can pass PostgreSQL's 2 KB toast threshold and be compressed on insert;
-- lz4 costs a fraction of the default pglz's CPU. Affects values written from now on.
ALTER TABLE flow_runs ALTER COLUMN path SET COMPRESSION lz4;
