-- Function runs are stored in the transaction of the flow run they belong to, and only with a
-- run that is new (history.cpp, write_runs): the flow run's unique run_key already keeps an
-- execution from being recorded twice. The primary key on run_id said so a second time, at the
-- price of one more B-tree entry per execution, at a random place in a large index (run ids
-- are run keys and node ids, not ordered by time): about 160 bytes of index per uplink, and one
-- of the costliest inserts on the hot path. No route looks function runs up by run_id.
ALTER TABLE function_runs DROP CONSTRAINT IF EXISTS function_runs_pkey;
