-- Functions: user JavaScript run by the function-runner. `version` is the code version (it
-- grows only when the code changes, so the runner's compiled cache stays valid across
-- renames); `revision` grows on every change and orders the change events.
CREATE TABLE functions (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 255),
  description text NOT NULL DEFAULT '',
  code        text NOT NULL CHECK (octet_length(code) BETWEEN 1 AND 262144),
  parameters  jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(parameters) = 'array'),
  version     bigint NOT NULL DEFAULT 1,
  revision    bigint NOT NULL DEFAULT 1,
  status      text NOT NULL DEFAULT 'inactive' CHECK (status IN ('inactive', 'success', 'error')),
  last_run_at timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX functions_status_idx ON functions (status);

CREATE VIEW function_docs AS
SELECT f.id, f.name, f.description, f.status, f.version, f.last_run_at, f.created_at, f.updated_at,
       json_build_object(
         'id', f.id, 'name', f.name, 'description', f.description, 'code', f.code,
         'parameters', f.parameters, 'version', f.version, 'status', f.status,
         'last_run_at', f.last_run_at, 'created_at', f.created_at, 'updated_at', f.updated_at) AS doc
  FROM functions f;
