-- Devices and labels. Ids are UUIDs everywhere; dev_eui is stored as 16 lowercase hex digits.
CREATE TABLE labels (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
  description text NOT NULL DEFAULT '',
  color       text,
  version     bigint NOT NULL DEFAULT 1,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE devices (
  id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  dev_eui                text NOT NULL UNIQUE CHECK (dev_eui ~ '^[0-9a-f]{16}$'),
  name                   text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
  description            text NOT NULL DEFAULT '',
  status                 text NOT NULL DEFAULT 'never_seen'
                         CHECK (status IN ('never_seen', 'online', 'offline', 'maintenance')),
  expected_transmit_time integer CHECK (expected_transmit_time > 0),
  app_eui                text CHECK (app_eui ~ '^[0-9a-f]{16}$'),
  region                 text,
  is_class_c             boolean NOT NULL DEFAULT false,
  metadata               jsonb NOT NULL DEFAULT '{}',
  configuration          jsonb NOT NULL DEFAULT '{}',
  last_seen_at           timestamptz,
  battery_level          double precision,
  version                bigint NOT NULL DEFAULT 1,
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX devices_status_idx ON devices (status);
CREATE INDEX devices_created_idx ON devices (created_at);

CREATE TABLE device_labels (
  device_id uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  label_id  uuid NOT NULL REFERENCES labels (id) ON DELETE CASCADE,
  PRIMARY KEY (device_id, label_id)
);
CREATE INDEX device_labels_label_idx ON device_labels (label_id);

-- The API's JSON shapes, rendered by PostgreSQL in one round trip.
CREATE VIEW device_docs AS
SELECT d.id, d.dev_eui, d.name, d.description, d.status, d.created_at, d.updated_at, d.last_seen_at,
       json_build_object(
         'id', d.id, 'dev_eui', d.dev_eui, 'name', d.name, 'description', d.description,
         'status', d.status, 'expected_transmit_time', d.expected_transmit_time,
         'app_eui', d.app_eui, 'region', d.region, 'is_class_c', d.is_class_c,
         'metadata', d.metadata, 'configuration', d.configuration,
         'labels', COALESCE((SELECT json_agg(json_build_object('id', l.id, 'name', l.name) ORDER BY l.name)
                               FROM device_labels dl JOIN labels l ON l.id = dl.label_id
                              WHERE dl.device_id = d.id), '[]'::json),
         'last_seen_at', d.last_seen_at, 'battery_level', d.battery_level,
         'version', d.version, 'created_at', d.created_at, 'updated_at', d.updated_at) AS doc
  FROM devices d;

CREATE VIEW label_docs AS
SELECT l.id, l.name, l.description, l.created_at, l.updated_at,
       json_build_object(
         'id', l.id, 'name', l.name, 'description', l.description, 'color', l.color,
         'device_count', (SELECT count(*) FROM device_labels dl WHERE dl.label_id = l.id),
         'version', l.version, 'created_at', l.created_at, 'updated_at', l.updated_at) AS doc
  FROM labels l;
