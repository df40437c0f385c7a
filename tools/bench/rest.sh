#!/usr/bin/env bash
# REST read benchmark (issue 3): authenticated GET /api/v1/devices/{id} and a 100-device list
# through the gateway, against a whole local stack on free ports. Each read runs twice in the
# same go: as served (the gateway's read cache on) and with every request going to the
# registry over NATS (a second gateway with GATEWAY_READ_CACHE_TTL=0), so the ratio is
# measured under the same machine load. Prints wrk's figures for RUNS runs and the medians.
#   tools/bench/rest.sh            # RUNS=3 DURATION=10 CONNECTIONS=32 THREADS=2
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
. "$ROOT/tools/bench/common.sh"
BUILD="${DM_BUILD_DIR:-$ROOT/build}"
RUNS="${RUNS:-3}"
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
command -v wrk >/dev/null || { echo "wrk is missing: run tools/setup.sh" >&2; exit 1; }

export DM_DATA_DIR="$(mktemp -d /tmp/dm-bench-XXXXXX)"
export NATS_PORT=$(free_port) NATS_HTTP_PORT=$(free_port) PG_PORT=$(free_port) MQTT_PORT=$(free_port)
export API_PORT=$(free_port) INGEST_PORT=$(free_port) REGISTRY_PORT=$(free_port) ORCHESTRATOR_PORT=$(free_port)
export RUNNER_PORT=$(free_port) DISPATCHER_PORT=$(free_port) LOG_LEVEL=warning
UNCACHED_PORT=$(free_port)
uncached_pid=""
cleanup() {
  [ -z "$uncached_pid" ] || kill "$uncached_pid" 2>/dev/null || true
  "$ROOT/deploy/local/down" --purge >/dev/null 2>&1 || true
}
trap cleanup EXIT
"$ROOT/deploy/local/up" >/dev/null
API="http://127.0.0.1:$API_PORT/api/v1"
TOKEN=$(bench_admin_token "$API")
AUTH=(-H "Authorization: Bearer $TOKEN")

# The baseline: a second gateway on the same NATS and database, its read cache off.
env NATS_URL="nats://127.0.0.1:$NATS_PORT" SECRET_KEY="$(cat "$DM_DATA_DIR/secrets/secret_key")" \
  LOG_LEVEL=warning DM_ENV_FILE=/nonexistent NATS_USER=gateway NATS_PASSWORD="$(bench_secret gateway NATS_PASSWORD)" \
  GATEWAY_DATABASE_URL="$(bench_db_url gateway)" API_HOST=127.0.0.1 API_PORT="$UNCACHED_PORT" GATEWAY_READ_CACHE_TTL=0 \
  "$BUILD/services/gateway/dm-gateway" >"$DM_DATA_DIR/logs/gateway-uncached.log" 2>&1 &
uncached_pid=$!
for _ in $(seq 1 100); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$UNCACHED_PORT/readyz")" = 200 ] && break
  sleep 0.1
done
UNCACHED="http://127.0.0.1:$UNCACHED_PORT/api/v1"

ids=()
for i in $(seq 1 100); do
  eui=$(printf 'be0c%012x' "$i")
  id=$(curl -sf "${AUTH[@]}" -H 'Content-Type: application/json' \
        -d "{\"dev_eui\":\"$eui\",\"name\":\"bench $i\",\"metadata\":{\"floor\":$((i % 5))}}" "$API/devices" |
       python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  ids+=("$id")
done

bench_wrk "GET /devices/{id}" "$API/devices/${ids[42]}" "${AUTH[@]}"
bench_wrk "GET /devices/{id} (no gateway cache)" "$UNCACHED/devices/${ids[42]}" "${AUTH[@]}"
bench_wrk "GET /devices?limit=100" "$API/devices?limit=100" "${AUTH[@]}"
bench_wrk "GET /devices?limit=100 (no gateway cache)" "$UNCACHED/devices?limit=100" "${AUTH[@]}"
