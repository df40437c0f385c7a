-- A job's final state is its last history row that is not `retrying`: the `deliveries` table
-- said the same thing a second time, one more row and index entry for every job.
DROP TABLE deliveries;
