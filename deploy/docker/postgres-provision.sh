#!/bin/sh
# One-shot provisioning for docker-compose: runs deploy/local/provision.sql (mounted at
# /provision/provision.sql) against the PostgreSQL service as its superuser. Idempotent, so
# compose runs it on every `up`; the services start only after it succeeded. The role
# passwords go to psql through stdin (\set), never on a command line. The function runner has
# no database role (it keeps nothing in PostgreSQL).
set -eu
: "${PGHOST:?}" "${PGUSER:?}" "${PGPASSWORD:?}"
for v in GATEWAY INGEST REGISTRY ORCHESTRATOR DISPATCHER; do
  eval "val=\${${v}_DB_PASSWORD:-}"
  [ -n "$val" ] || { echo "provision: ${v}_DB_PASSWORD is not set" >&2; exit 2; }
done
{
  printf '\\set dbname %s\n' "${PG_DATABASE:-device_manager}"
  printf '\\set gateway_password %s\n' "$GATEWAY_DB_PASSWORD"
  printf '\\set ingest_password %s\n' "$INGEST_DB_PASSWORD"
  printf '\\set registry_password %s\n' "$REGISTRY_DB_PASSWORD"
  printf '\\set orchestrator_password %s\n' "$ORCHESTRATOR_DB_PASSWORD"
  printf '\\set dispatcher_password %s\n' "$DISPATCHER_DB_PASSWORD"
  printf '%s\n' "\\i /provision/provision.sql"
} | psql -X -q -v ON_ERROR_STOP=1 -d postgres -f -
echo "provision: database ${PG_DATABASE:-device_manager} ready"
