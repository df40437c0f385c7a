-- Device history: every ChirpStack event ingest accepted, written by the durable consumer
-- `ingest-history` in batches. (event_type, dedup_id) is the idempotency key, so a
-- redelivered message or a repeated webhook adds nothing.
CREATE TABLE device_events (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  event_type  text NOT NULL,
  dedup_id    text NOT NULL,
  dev_eui     text NOT NULL,
  device_id   uuid,            -- NULL: not registered when it arrived (policy "record")
  received_at timestamptz NOT NULL,
  time        timestamptz,
  f_port      integer,
  f_cnt       bigint,
  rssi        double precision,
  snr         double precision,
  data        text,
  -- json, not jsonb: stored verbatim (no binary conversion on the hot write path);
  -- reads, which are rare, convert when they need to.
  object      json,
  event       json NOT NULL,   -- the whole normalised message (proto/schemas/device-event)
  stream_seq  bigint,
  UNIQUE (event_type, dedup_id)
);
CREATE INDEX device_events_received_idx ON device_events (received_at DESC, id DESC);
CREATE INDEX device_events_device_idx ON device_events (device_id, received_at DESC, id DESC);
CREATE INDEX device_events_unknown_idx ON device_events (dev_eui, received_at DESC) WHERE device_id IS NULL;
