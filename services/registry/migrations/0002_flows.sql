-- Flows: graphs of nodes and edges as the editor saved them (kept verbatim for the
-- editor), plus flow_refs: one row per node that names an entity, so "which enabled flows
-- use this device/label/function/integration/storage" is an index lookup.
CREATE TABLE flows (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 255),
  description text NOT NULL DEFAULT '',
  enabled     boolean NOT NULL DEFAULT true,
  nodes       jsonb NOT NULL DEFAULT '[]',
  edges       jsonb NOT NULL DEFAULT '[]',
  layout      jsonb NOT NULL DEFAULT '{}',
  version     bigint NOT NULL DEFAULT 1,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE flow_refs (
  flow_id   uuid NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
  node_id   text NOT NULL,
  kind      text NOT NULL CHECK (kind IN ('device', 'label', 'function', 'integration', 'storage')),
  entity_id uuid NOT NULL,
  PRIMARY KEY (flow_id, node_id)
);
CREATE INDEX flow_refs_entity_idx ON flow_refs (kind, entity_id);
