#!/usr/bin/env bash
# Authentication benchmark (issue 4): authenticated REST reads through the gateway with a
# bearer token and with an API key, the 401 path, and login latency (PBKDF2, 600k
# iterations). Runs NATS (with deploy/local's per-service users), PostgreSQL, the registry
# and the gateway on free ports; prints wrk's figures for RUNS runs and the medians.
#   DM_BUILD_DIR=build-auth tools/bench/auth.sh     # RUNS=3 DURATION=10 CONNECTIONS=32 THREADS=2
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${DM_BUILD_DIR:-$ROOT/build}"
RUNS="${RUNS:-3}"
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
command -v wrk >/dev/null || { echo "wrk is missing: run tools/setup.sh" >&2; exit 1; }

. "$ROOT/tools/bench/common.sh"
DM_DATA_DIR="$(mktemp -d /tmp/dm-auth-bench-XXXXXX)"
export DM_DATA_DIR DM_SKIP_SERVICES=1
export NATS_PORT=$(free_port) NATS_HTTP_PORT=$(free_port) PG_PORT=$(free_port) MQTT_PORT=$(free_port)
API_PORT=$(free_port)
REGISTRY_PORT=$(free_port)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$ROOT/deploy/local/down" --purge >/dev/null 2>&1 || true
}
trap cleanup EXIT
"$ROOT/deploy/local/up" >/dev/null
secret() { bench_secret "$@"; }
db_url() { bench_db_url "$@"; }
common=(NATS_URL="nats://127.0.0.1:$NATS_PORT" SECRET_KEY="$(cat "$DM_DATA_DIR/secrets/secret_key")"
  LOG_LEVEL=warning DM_ENV_FILE=/nonexistent)
env "${common[@]}" NATS_USER=registry NATS_PASSWORD="$(secret registry NATS_PASSWORD)" \
  REGISTRY_DATABASE_URL="$(db_url registry)" REGISTRY_HOST=127.0.0.1 REGISTRY_PORT="$REGISTRY_PORT" \
  "$BUILD/services/registry/dm-registry" >"$DM_DATA_DIR/logs/registry.log" 2>&1 &
pids+=($!)
env "${common[@]}" NATS_USER=gateway NATS_PASSWORD="$(secret gateway NATS_PASSWORD)" \
  GATEWAY_DATABASE_URL="$(db_url gateway)" API_HOST=127.0.0.1 API_PORT="$API_PORT" \
  "$BUILD/services/gateway/dm-gateway" >"$DM_DATA_DIR/logs/gateway.log" 2>&1 &
pids+=($!)
for port in "$REGISTRY_PORT" "$API_PORT"; do
  for _ in $(seq 1 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ] && break
    sleep 0.1
  done
done
API="http://127.0.0.1:$API_PORT/api/v1"

GATEWAY_DATABASE_URL="$(db_url gateway)" DM_ENV_FILE=/nonexistent \
  "$BUILD/tools/dm-admin" create-admin bench@example.com bench bench-password-0123 >/dev/null
login_times=()
for _ in 1 2 3 4 5; do
  login_times+=("$(curl -s -o /dev/null -w '%{time_total}' -d 'username=bench&password=bench-password-0123' "$API/auth/login")")
done
TOKEN=$(curl -sf -d 'username=bench&password=bench-password-0123' "$API/auth/login" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
KEY=$(curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"name":"bench"}' \
  "$API/auth/api-keys" | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
DEVICE=$(curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d '{"dev_eui":"be0c000000000001","name":"bench"}' "$API/devices" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')

echo "login (PBKDF2-SHA256, 600k iterations) median of 5: $(printf '%s\n' "${login_times[@]}" | median) s"
bench_wrk "GET /devices/{id} bearer" "$API/devices/$DEVICE" -H "Authorization: Bearer $TOKEN"
bench_wrk "GET /devices/{id} api key" "$API/devices/$DEVICE" -H "X-API-Key: $KEY"
bench_wrk "GET /auth/me bearer (gateway-local, database)" "$API/auth/me" -H "Authorization: Bearer $TOKEN"
bench_wrk "GET /devices/{id} no token (401)" "$API/devices/$DEVICE"
