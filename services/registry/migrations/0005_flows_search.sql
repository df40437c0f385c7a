-- Flows as the API shows them, and the indexes behind GET /api/v1/search.

CREATE VIEW flow_docs AS
SELECT f.id, f.name, f.description, f.enabled, f.created_at, f.updated_at,
       json_build_object(
         'id', f.id, 'name', f.name, 'description', f.description, 'enabled', f.enabled,
         'nodes', f.nodes, 'edges', f.edges, 'layout', f.layout,
         'version', f.version, 'created_at', f.created_at, 'updated_at', f.updated_at) AS doc
  FROM flows f;

-- Search ranks by trigram similarity (pg_trgm, installed in this schema by provisioning),
-- full-text rank and prefix matches. Trigram GIN indexes serve ILIKE '%q%' and the
-- similarity operators (% and <%); expression GIN indexes serve the full-text match,
-- whose expression search.cpp repeats exactly.
CREATE INDEX devices_name_trgm_idx ON devices USING gin (name gin_trgm_ops);
CREATE INDEX devices_dev_eui_trgm_idx ON devices USING gin (dev_eui gin_trgm_ops);
CREATE INDEX devices_description_trgm_idx ON devices USING gin (description gin_trgm_ops);
CREATE INDEX devices_fts_idx ON devices
  USING gin (to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(description, '')));

CREATE INDEX labels_name_trgm_idx ON labels USING gin (name gin_trgm_ops);
CREATE INDEX labels_fts_idx ON labels
  USING gin (to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(description, '')));

CREATE INDEX flows_name_trgm_idx ON flows USING gin (name gin_trgm_ops);
CREATE INDEX flows_fts_idx ON flows
  USING gin (to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(description, '')));

-- functions (0003), integrations and storages (0004).
CREATE INDEX IF NOT EXISTS functions_name_trgm_idx ON functions USING gin (name gin_trgm_ops);
CREATE INDEX IF NOT EXISTS functions_fts_idx ON functions
  USING gin (to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(description, '')));

CREATE INDEX IF NOT EXISTS integrations_name_trgm_idx ON integrations USING gin (name gin_trgm_ops);
CREATE INDEX IF NOT EXISTS integrations_fts_idx ON integrations
  USING gin (to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(description, '')));

CREATE INDEX IF NOT EXISTS storages_name_trgm_idx ON storages USING gin (name gin_trgm_ops);
CREATE INDEX IF NOT EXISTS storages_fts_idx ON storages
  USING gin (to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(description, '')));
