-- Deliveries, history, dead letters and internal storage records of integration-dispatcher.

-- One row per job that reached a final state (delivered, failed or dead-lettered): the
-- idempotency key that stops a redelivered job from being sent twice.
CREATE TABLE deliveries (
  job_id       text PRIMARY KEY,
  target_id    uuid NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('integration', 'storage')),
  status       text NOT NULL CHECK (status IN ('delivered', 'failed', 'dead_lettered')),
  finished_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per attempt (request and response kept up to 64 KiB each, secrets redacted).
CREATE TABLE history (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  job_id        text NOT NULL,
  target_id     uuid NOT NULL,
  kind          text NOT NULL,
  flow_id       text,
  dev_eui       text,
  attempt       integer NOT NULL,
  status        text NOT NULL CHECK (status IN ('delivered', 'retrying', 'dead_lettered', 'failed')),
  http_status   integer,
  error         text,
  duration_ms   double precision NOT NULL,
  request       jsonb,
  response      jsonb,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX history_target_time_idx ON history (target_id, created_at DESC);
CREATE INDEX history_time_idx ON history (created_at DESC);
CREATE INDEX history_job_idx ON history (job_id);

-- Jobs that exhausted their attempts; retry republishes the job and deletes the row.
CREATE TABLE dead_letters (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  job_id        text NOT NULL UNIQUE,
  target_id     uuid NOT NULL,
  kind          text NOT NULL,
  job           jsonb NOT NULL,
  attempts      integer NOT NULL,
  last_error    text,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dead_letters_target_idx ON dead_letters (target_id, created_at);

-- Messages kept by `internal` storages.
CREATE TABLE records (
  id            bigserial PRIMARY KEY,
  job_id        text NOT NULL UNIQUE,
  storage_id    uuid NOT NULL,
  dev_eui       text,
  flow_id       text,
  data          jsonb NOT NULL,
  received_at   timestamptz NOT NULL,
  stored_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX records_storage_time_idx ON records (storage_id, received_at DESC);
CREATE INDEX records_storage_device_idx ON records (storage_id, dev_eui, received_at DESC);
