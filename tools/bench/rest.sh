#!/usr/bin/env bash
# REST read benchmark (issue 3): GET /api/v1/devices/{id} and a 100-device list through the
# gateway, against a whole local stack on free ports. Prints wrk's figures for RUNS runs and
# the medians.
#   tools/bench/rest.sh            # RUNS=3 DURATION=10 CONNECTIONS=32 THREADS=2
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUNS="${RUNS:-3}"
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
command -v wrk >/dev/null || { echo "wrk is missing: run tools/setup.sh" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export DM_DATA_DIR="$(mktemp -d /tmp/dm-bench-XXXXXX)"
export NATS_PORT=$(free_port) NATS_HTTP_PORT=$(free_port) PG_PORT=$(free_port) MQTT_PORT=$(free_port)
export API_PORT=$(free_port) INGEST_PORT=$(free_port) REGISTRY_PORT=$(free_port) ORCHESTRATOR_PORT=$(free_port)
export RUNNER_PORT=$(free_port) DISPATCHER_PORT=$(free_port) LOG_LEVEL=warning
trap '"$ROOT/deploy/local/down" --purge >/dev/null 2>&1 || true' EXIT
"$ROOT/deploy/local/up" >/dev/null
API="http://127.0.0.1:$API_PORT/api/v1"
AUTH=()
if [ -n "${DM_TOKEN:-}" ]; then AUTH=(-H "Authorization: Bearer $DM_TOKEN"); fi

ids=()
for i in $(seq 1 100); do
  eui=$(printf 'be0c%012x' "$i")
  id=$(curl -sf "${AUTH[@]}" -H 'Content-Type: application/json' \
        -d "{\"dev_eui\":\"$eui\",\"name\":\"bench $i\",\"metadata\":{\"floor\":$((i % 5))}}" "$API/devices" |
       python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  ids+=("$id")
done

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
bench() {  # name url
  local name="$1" url="$2" rates=() p50s=() p99s=()
  for r in $(seq 1 "$RUNS"); do
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "${AUTH[@]}" "$url")
    rate=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1=="50%" {print $2}' <<<"$out")
    p99=$(awk '$1=="99%" {print $2}' <<<"$out")
    errors=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
    echo "$name run $r: $rate req/s, p50 $p50, p99 $p99${errors:+, non-2xx $errors}"
    rates+=("$rate"); p50s+=("$p50"); p99s+=("$p99")
  done
  echo "$name median: $(printf '%s\n' "${rates[@]}" | median) req/s, p50 $(printf '%s\n' "${p50s[@]}" | sed 's/ms//;s/us/e-3/' | median | awk '{print $1}')ms, p99 $(printf '%s\n' "${p99s[@]}" | sed 's/ms//;s/us/e-3/' | median | awk '{print $1}')ms"
}
bench "GET /devices/{id}" "$API/devices/${ids[42]}"
bench "GET /devices?limit=100" "$API/devices?limit=100"
