-- Integrations (HTTP, MQTT targets) and storages (internal, InfluxDB, PostgreSQL sinks).
-- Each config is kept twice, written together by the registry: `config` with every secret
-- sealed ("enc:v1:..."), which the dispatcher gets opened over the internal route, and
-- `config_public` with every secret masked, which is all the public API ever shows (the
-- masked form of a PostgreSQL URL keeps its non-secret parts, so it cannot be derived in SQL).
CREATE TABLE integrations (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name          text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 255),
  description   text NOT NULL DEFAULT '',
  type          text NOT NULL CHECK (type IN ('http', 'mqtt')),
  config        jsonb NOT NULL CHECK (jsonb_typeof(config) = 'object'),
  config_public jsonb NOT NULL CHECK (jsonb_typeof(config_public) = 'object'),
  status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'error', 'paused')),
  last_error    text,
  version       bigint NOT NULL DEFAULT 1,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX integrations_type_idx ON integrations (type);
CREATE INDEX integrations_status_idx ON integrations (status);

CREATE VIEW integration_docs AS
SELECT i.id, i.name, i.description, i.type, i.status, i.created_at, i.updated_at,
       json_build_object(
         'id', i.id, 'name', i.name, 'description', i.description, 'type', i.type,
         'config', i.config_public, 'status', i.status, 'last_error', i.last_error,
         'version', i.version, 'created_at', i.created_at, 'updated_at', i.updated_at) AS doc
  FROM integrations i;

CREATE TABLE storages (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name          text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 255),
  description   text NOT NULL DEFAULT '',
  type          text NOT NULL CHECK (type IN ('internal', 'influxdb', 'postgresql')),
  config        jsonb NOT NULL CHECK (jsonb_typeof(config) = 'object'),
  config_public jsonb NOT NULL CHECK (jsonb_typeof(config_public) = 'object'),
  version       bigint NOT NULL DEFAULT 1,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX storages_type_idx ON storages (type);

CREATE VIEW storage_docs AS
SELECT s.id, s.name, s.description, s.type, s.created_at, s.updated_at,
       json_build_object(
         'id', s.id, 'name', s.name, 'description', s.description, 'type', s.type,
         'config', s.config_public, 'version', s.version,
         'created_at', s.created_at, 'updated_at', s.updated_at) AS doc
  FROM storages s;
