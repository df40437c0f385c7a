# shellcheck shell=bash
# Shared by scale_test.sh and scale_bench.sh (sourced): starts deploy/local with REPLICAS
# (default 3) workers on free ports in a temporary data folder (removed on exit), a dm-sink
# receiver, an admin, and through the REST API a label with DEVICES devices, a function, an
# HTTP integration to the sink and a flow label → function → integration. Then offers helpers
# over /metrics, the flow history and the sink. SCALE_FN_BUSY_MS > 0 makes each function
# execution spin that long.
ROOT="${DM_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export DM_BUILD_DIR="${DM_BUILD_DIR:-$ROOT/build}"
UP="$ROOT/deploy/local/up"
DOWN="$ROOT/deploy/local/down"
WORKERS=(flow-orchestrator function-runner integration-dispatcher)
DEVICES="${SCALE_DEVICES:-12}"
PREFIX=5ca1e0 # dev EUI prefix of dm-load's devices
REPLICAS="${REPLICAS:-3}"

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }
die() { echo "FAIL: $*" >&2; exit 1; }

for b in services/gateway/dm-gateway tools/dm-admin tools/dm-sink tools/dm-load; do
  [ -x "$DM_BUILD_DIR/$b" ] || die "$DM_BUILD_DIR/$b not built"
done

# Free ports. A worker's replica i listens on base + 10*(i-1): base + 10, base + 20, … must be
# free too. All are bound at once, then released.
read -r -a ports < <(python3 - "$REPLICAS" <<'PY'
import random, socket, sys
replicas = int(sys.argv[1])
held, out = [], []
def grab(offsets):
    for _ in range(200):
        base = random.randint(20000, 60000)
        socks = []
        try:
            for o in offsets:
                s = socket.socket(); s.bind(("127.0.0.1", base + o)); socks.append(s)
        except OSError:
            for s in socks: s.close()
            continue
        held.extend(socks); return base
    raise SystemExit("no free ports")
for _ in range(7): out.append(grab([0]))          # NATS, NATS http, PG, MQTT, API, ingest, registry
for _ in range(3): out.append(grab([10 * i for i in range(replicas)]))  # the three workers
out.append(grab([0]))                             # dm-sink
print(" ".join(map(str, out)))
for s in held: s.close()
PY
)
PORT_VARS=(NATS_PORT NATS_HTTP_PORT PG_PORT MQTT_PORT API_PORT INGEST_PORT REGISTRY_PORT
  ORCHESTRATOR_PORT RUNNER_PORT DISPATCHER_PORT)
for i in "${!PORT_VARS[@]}"; do export "${PORT_VARS[$i]}=${ports[$i]}"; done
SINK_PORT="${ports[10]}"
DM_DATA_DIR="$(mktemp -d "${TMPDIR:-/tmp}/dm-scale-XXXXXX")"
export DM_DATA_DIR REPLICAS READY_TIMEOUT="${READY_TIMEOUT:-120}" STOP_TIMEOUT=10
unset DM_SKIP_SERVICES
# Passed through `up` to the services: uplinks and jobs a killed replica held come back after
# 5 s instead of a minute; one sandbox worker per runner replica (2 cores); local receiver allowed.
export ORCHESTRATOR_ACK_WAIT=5s ORCHESTRATOR_RETRY_DELAY=200ms DISPATCHER_ACK_WAIT=5s DISPATCHER_RETRY_BASE=200ms
export RUNNER_WORKERS=1 OUTBOUND_ALLOW=127.0.0.1
echo "data folder $DM_DATA_DIR; ports: $(for v in "${PORT_VARS[@]}"; do printf '%s=%s ' "$v" "${!v}"; done)SINK=$SINK_PORT"

SINK_PID=""
. "$ROOT/tests/stack_teardown.sh"
cleanup() {
  local rc=$?
  if [ -n "$SINK_PID" ]; then kill "$SINK_PID" 2>/dev/null || true; wait "$SINK_PID" 2>/dev/null || true; fi
  stack_teardown "$rc" 10
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the stack, the receiver, an admin ------------------------------------------------------------
t0=$SECONDS
if ! out="$("$UP" 2>&1)"; then
  echo "$out" >&2
  die "deploy/local/up with REPLICAS=$REPLICAS failed"
fi
pass "up with REPLICAS=$REPLICAS in $((SECONDS - t0)) s"
for w in "${WORKERS[@]}"; do
  for ((i = 2; i <= REPLICAS; i++)); do [ -f "$DM_DATA_DIR/pids/$w-$i.pid" ] || fail "no replica $w-$i"; done
done

"$DM_BUILD_DIR/tools/dm-sink" --host 127.0.0.1 --port "$SINK_PORT" >"$DM_DATA_DIR/logs/sink.log" 2>&1 &
SINK_PID=$!

API="http://127.0.0.1:$API_PORT/api/v1"
PASSWORD="scale-test-password-0123"
(
  set -a
  # shellcheck disable=SC1091
  . "$DM_DATA_DIR/env/gateway.env"
  set +a
  "$DM_BUILD_DIR/tools/dm-admin" create-admin admin@example.com admin "$PASSWORD"
) >/dev/null || die "dm-admin create-admin failed"
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
TOKEN="$(curl -fsS -d "username=admin&password=$PASSWORD" "$API/auth/login" | json_field access_token)" ||
  die "login failed"
AUTH=(-H "Authorization: Bearer $TOKEN")

# POST <path> <json> → prints the new object's id (fails the test on anything but 201).
create() {
  local code body
  body="$(curl -sS -o - -w '\n%{http_code}' "${AUTH[@]}" -H 'Content-Type: application/json' -d "$2" "$API$1")"
  code="${body##*$'\n'}"
  body="${body%$'\n'*}"
  [ "$code" = 201 ] || die "POST $1 answered $code: $body"
  json_field id <<<"$body"
}
label="$(create /labels '{"name":"scale"}')"
for ((i = 0; i < DEVICES; i++)); do
  eui="$(printf '%s%010x' "$PREFIX" "$i")"
  id="$(create /devices "{\"dev_eui\":\"$eui\",\"name\":\"scale-$i\"}")"
  code="$(curl -sS -o /dev/null -w '%{http_code}' -X POST "${AUTH[@]}" "$API/labels/$label/devices/$id")"
  [ "$code" = 200 ] || die "adding device $i to the label answered $code"
done
# SCALE_FN_BUSY_MS > 0 makes each execution spin that long, so runners hold queued work when stopped.
fn="$(create /functions "{\"name\":\"scale-fn\",\"code\":\"function process(m) { const end = Date.now() + ${SCALE_FN_BUSY_MS:-0}; while (Date.now() < end) {} return {dev_eui: m.dev_eui, temperature: m.data.temperature}; }\"}")"
integration="$(create /integrations "{\"name\":\"scale-sink\",\"type\":\"http\",\"config\":{\"url\":\"http://127.0.0.1:$SINK_PORT/in\"}}")"
flow="$(create /flows "{\"name\":\"scale-flow\",\"enabled\":true,\"nodes\":[
  {\"id\":\"l\",\"type\":\"label\",\"data\":{\"entityId\":\"$label\"}},
  {\"id\":\"f\",\"type\":\"function\",\"data\":{\"entityId\":\"$fn\"}},
  {\"id\":\"i\",\"type\":\"integration\",\"data\":{\"entityId\":\"$integration\"}}],
  \"edges\":[{\"id\":\"e1\",\"source\":\"l\",\"target\":\"f\"},{\"id\":\"e2\",\"source\":\"f\",\"target\":\"i\"}]}")"
pass "label, $DEVICES devices, function, integration and flow created"

# --- helpers over /metrics and the API --------------------------------------------------------------
worker_port() { # <worker> <replica>
  local base
  case "$1" in
    flow-orchestrator) base=$ORCHESTRATOR_PORT ;;
    function-runner) base=$RUNNER_PORT ;;
    integration-dispatcher) base=$DISPATCHER_PORT ;;
  esac
  echo $((base + 10 * ($2 - 1)))
}
metric() { # <port> <name>: the value, 0 when absent
  curl -s --max-time 5 "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n { v = $2 } END { print (v == "" ? 0 : v) }'
}
work_metric() { # <worker>: the counter that says it did work
  case "$1" in
    flow-orchestrator) echo dm_orchestrator_uplinks_total ;;
    function-runner) echo dm_function_executions_total ;;
    integration-dispatcher) echo dm_dispatcher_delivered_total ;;
  esac
}
history_total() { # [query]
  curl -s -D - -o /dev/null "${AUTH[@]}" "$API/flows/$flow/history?limit=1${1:-}" |
    tr -d '\r' | awk -F': ' 'tolower($1) == "x-total-count" { print $2 }'
}
sink_stat() { curl -s "http://127.0.0.1:$SINK_PORT/_sink/stats" | json_field "$1"; }
# Waits up to <seconds> until <command...> succeeds.
eventually() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}
views_loaded() {
  local i p
  for ((i = 1; i <= REPLICAS; i++)); do
    p="$(worker_port flow-orchestrator "$i")"
    [ "$(metric "$p" dm_orchestrator_cached_flows | cut -d. -f1)" -ge 1 ] || return 1
    [ "$(metric "$p" dm_orchestrator_cached_devices | cut -d. -f1)" -ge "$DEVICES" ] || return 1
  done
}

load() { # <result file> <dm-load options...>: posts uplinks of the labelled devices
  local out="$1"
  shift
  "$DM_BUILD_DIR/tools/dm-load" --url "http://127.0.0.1:$INGEST_PORT/api/v1/ingest/chirpstack?event=up" \
    --connections 8 --devices "$DEVICES" --dev-eui-prefix "$PREFIX" \
    --secret "$(cat "$DM_DATA_DIR/secrets/ingest_secret")" --json "$@" >"$out" 2>"$out.err"
}
accepted() { json_field ok <"$1"; }
runs_reach() { # <n>: the flow has n runs or more (false while the history cannot be read)
  local n
  n="$(history_total '')"
  [ -n "$n" ] && [ "$n" -ge "$1" ]
}
