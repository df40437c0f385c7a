-- Every run paid for a third secondary index that no query needs: the purge reads two
-- ranges of created_at (function_runs_created_idx) and history pages filter status on
-- rows found by time or function. Dropping it makes each history row cheaper to insert.
DROP INDEX IF EXISTS function_runs_status_idx;
