-- Flow history: one row per flow run. run_key ('<flow_id>:up:<dedup_id>') is unique, so an
-- uplink redelivered after a crash (history written, ack lost) does not record a second run.
-- Written in batches before the uplink is acked; purged by age.
CREATE TABLE flow_runs (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  run_key      text NOT NULL UNIQUE,
  flow_id      text NOT NULL,
  flow_version bigint NOT NULL,
  dedup_id     text NOT NULL,
  dev_eui      text NOT NULL,
  device_id    text,
  trigger_node text NOT NULL,
  status       text NOT NULL CHECK (status IN ('success', 'partial_success', 'error', 'filtered')),
  path         jsonb NOT NULL,
  duration_ms  double precision NOT NULL,
  replay       boolean NOT NULL DEFAULT false,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX flow_runs_created_idx ON flow_runs (created_at DESC);
CREATE INDEX flow_runs_flow_idx ON flow_runs (flow_id, created_at DESC);
CREATE INDEX flow_runs_status_idx ON flow_runs (status, created_at);
