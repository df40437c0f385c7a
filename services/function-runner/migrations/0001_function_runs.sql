-- Function history: one row per execution requested on dm.fn.exec (test runs are not
-- recorded). run_id is the execution id (flow run key + node id): a repeated execution
-- is recorded once. Written in batches; purged by age (failures may be kept longer).
CREATE TABLE function_runs (
  run_id      text PRIMARY KEY,
  function_id text NOT NULL,
  version     bigint NOT NULL,
  flow_id     text,
  flow_run_id text,
  node_id     text,
  dev_eui     text,
  replay      boolean NOT NULL DEFAULT false,
  status      text NOT NULL CHECK (status IN ('success', 'error', 'filtered', 'timeout')),
  input       jsonb NOT NULL,
  output      jsonb,
  logs        jsonb NOT NULL DEFAULT '[]',
  error       jsonb,
  duration_ms double precision NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX function_runs_created_idx ON function_runs (created_at DESC);
CREATE INDEX function_runs_function_idx ON function_runs (function_id, created_at DESC);
CREATE INDEX function_runs_status_idx ON function_runs (status, created_at);
