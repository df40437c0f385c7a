#!/usr/bin/env bash
# Integration test of deploy/local: starts the whole stack (NATS, PostgreSQL, mosquitto
# and the six services) on free loopback ports in a temporary data folder, checks every
# service's /readyz, /healthz and /metrics, checks that a second `up` leaves everything
# alone, then `down`, and checks that nothing it started is left running or listening.
# With NATS_NODES=3 the bus is a three-node JetStream cluster: every node must have its two
# routes, and the streams three replicas with a leader.
#
#   DM_BUILD_DIR=build bash tests/integration/local_stack_test.sh
#   NATS_NODES=3 DM_BUILD_DIR=build bash tests/integration/local_stack_test.sh
#
# The data folder is always removed (down --purge), even when a check fails.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
UP="$ROOT/deploy/local/up"
DOWN="$ROOT/deploy/local/down"
export DM_BUILD_DIR="${DM_BUILD_DIR:-$ROOT/build}"

SERVICES=(gateway ingest registry flow-orchestrator function-runner integration-dispatcher)
NATS_NODES="${NATS_NODES:-1}"
export NATS_NODES
PORT_VARS=(NATS_PORT NATS_HTTP_PORT NATS_CLUSTER_PORT PG_PORT MQTT_PORT
  API_PORT INGEST_PORT REGISTRY_PORT ORCHESTRATOR_PORT RUNNER_PORT DISPATCHER_PORT)
SERVICE_PORT_VARS=(API_PORT INGEST_PORT REGISTRY_PORT ORCHESTRATOR_PORT RUNNER_PORT DISPATCHER_PORT)

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
pass() { echo "ok: $*"; }

# Free ports, all distinct: bind them all at once, then release them. Node i of a cluster uses
# base + 10 × (i − 1), so each base is taken only when those are free too.
read -r -a ports < <(python3 -c '
import socket, sys
wanted, nodes = int(sys.argv[1]), int(sys.argv[2])
held, bases = [], []
while len(bases) < wanted:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); held.append(s)
    base = s.getsockname()[1]
    try:
        for i in range(1, nodes):
            t = socket.socket(); t.bind(("127.0.0.1", base + 10 * i)); held.append(t)
    except OSError:
        continue
    bases.append(base)
print(" ".join(map(str, bases)))
for s in held:
    s.close()
' "${#PORT_VARS[@]}" "$NATS_NODES")
for i in "${!PORT_VARS[@]}"; do export "${PORT_VARS[$i]}=${ports[$i]}"; done
DM_DATA_DIR="$(mktemp -d "${TMPDIR:-/tmp}/dm-local-stack-XXXXXX")"
export DM_DATA_DIR
export REPLICAS=1 READY_TIMEOUT="${READY_TIMEOUT:-60}"
unset DM_SKIP_SERVICES
echo "data folder $DM_DATA_DIR; ports: $(for v in "${PORT_VARS[@]}"; do printf '%s=%s ' "$v" "${!v}"; done)"

. "$ROOT/tests/stack_teardown.sh"
cleanup() {
  local rc=$?
  stack_teardown "$rc" 15
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A process that has exited but is not yet reaped (zombie) counts as gone.
alive() { # <pid>
  local stat
  [ -e "/proc/$1" ] || return 1
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [ "${stat%% *}" != Z ]
}

http_code() { # <url>
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1" || true
}

# --- 1. up ---------------------------------------------------------------------------
if ! out="$("$UP" 2>&1)"; then
  echo "$out" >&2
  fail "deploy/local/up failed"
  exit 1
fi
echo "$out"
pass "up succeeded"
grep -q "http://127.0.0.1:$API_PORT/api/v1" <<<"$out" || fail "up did not print the API URL"

# --- 2. every service answers ----------------------------------------------------------
for v in "${SERVICE_PORT_VARS[@]}"; do
  port="${!v}"
  for path in readyz healthz; do
    code="$(http_code "http://127.0.0.1:$port/$path")"
    if [ "$code" = 200 ]; then pass "$v $port /$path 200"; else fail "$v $port /$path answered $code"; fi
  done
  metrics="$(curl -s --max-time 5 "http://127.0.0.1:$port/metrics" || true)"
  if grep -q '^# TYPE ' <<<"$metrics"; then pass "$v $port /metrics"; else fail "$v $port /metrics has no '# TYPE'"; fi
done
code="$(http_code "http://127.0.0.1:$NATS_HTTP_PORT/jsz")"
if [ "$code" = 200 ]; then pass "NATS JetStream monitoring"; else fail "NATS /jsz answered $code"; fi
if [ "$NATS_NODES" -gt 1 ]; then
  for ((i = 0; i < NATS_NODES; i++)); do
    routes="$(curl -s --max-time 5 "http://127.0.0.1:$((NATS_HTTP_PORT + 10 * i))/routez" |
      python3 -c 'import json,sys; print(json.load(sys.stdin).get("num_routes", 0))' || echo 0)"
    if [ "$routes" -ge $((NATS_NODES - 1)) ]; then pass "NATS node $((i + 1)) has $routes routes"; else
      fail "NATS node $((i + 1)) has $routes routes, expected $((NATS_NODES - 1))"; fi
  done
  streams="$(curl -s --max-time 5 "http://127.0.0.1:$NATS_HTTP_PORT/jsz?accounts=true&streams=true&config=true" |
    python3 -c '
import json, sys
for acc in json.load(sys.stdin).get("account_details", []):
    for st in acc.get("stream_detail", []):
        cl = st.get("cluster", {})
        print(st["name"], st["config"]["num_replicas"], "leader" if cl.get("leader") else "no-leader",
              len(cl.get("replicas", [])) + 1)' || true)"
  for stream in DM_DEVICE_EVENTS DM_DISPATCH; do
    if grep -Eq "^$stream $NATS_NODES leader $NATS_NODES$" <<<"$streams"; then pass "$stream: $NATS_NODES replicas, a leader"
    else fail "$stream is not replicated on $NATS_NODES nodes with a leader: $(grep "^$stream" <<<"$streams")"; fi
  done
fi

# --- 3. a second up leaves everything alone -----------------------------------------------
before="$(cat "$DM_DATA_DIR"/pids/*.pid | sort)"
if ! out2="$("$UP" 2>&1)"; then
  echo "$out2" >&2
  fail "second up failed"
else
  pass "second up succeeded"
fi
names=(postgres mosquitto "${SERVICES[@]}")
if [ "$NATS_NODES" = 1 ]; then names+=(nats-server); else for ((i = 1; i <= NATS_NODES; i++)); do names+=("nats-server $i"); done; fi
for name in "${names[@]}"; do
  if grep -Eq "^$name +already running" <<<"$out2"; then
    pass "second up: $name already running"
  else
    fail "second up did not report $name as already running"
  fi
done
if grep -q " started " <<<"$out2"; then fail "second up started something again"; fi
after="$(cat "$DM_DATA_DIR"/pids/*.pid | sort)"
if [ "$before" = "$after" ]; then pass "pids unchanged"; else fail "pid files changed after the second up"; fi

# --- 4. down ---------------------------------------------------------------------------
mapfile -t pids < <(cat "$DM_DATA_DIR"/pids/*.pid)
expected=$((2 + NATS_NODES + ${#SERVICES[@]}))
[ "${#pids[@]}" -eq "$expected" ] || fail "expected $expected pid files, found ${#pids[@]}"
if "$DOWN"; then pass "down succeeded"; else fail "down failed"; fi
for pid in "${pids[@]}"; do
  if alive "$pid"; then fail "pid $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)) still running after down"; fi
done
for v in "${PORT_VARS[@]}"; do
  if port_open "${!v}"; then fail "port ${!v} ($v) still open after down"; fi
done
for ((i = 1; i < NATS_NODES; i++)); do
  for v in NATS_PORT NATS_HTTP_PORT NATS_CLUSTER_PORT; do
    if port_open "$((${!v} + 10 * i))"; then fail "port $((${!v} + 10 * i)) (NATS node $((i + 1))) still open after down"; fi
  done
done
left="$(find "$DM_DATA_DIR/pids" -name '*.pid' | wc -l)"
if [ "$left" = 0 ]; then pass "pid files removed"; else fail "$left pid file(s) left after down"; fi
if "$DOWN" >/dev/null; then pass "second down succeeded"; else fail "second down failed"; fi

# --- 5. purge ----------------------------------------------------------------------------
"$DOWN" --purge >/dev/null || fail "down --purge failed"
if [ ! -e "$DM_DATA_DIR" ]; then pass "down --purge deleted the data folder"; else fail "data folder still exists after down --purge"; fi

if [ "$failures" -gt 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "local_stack_test: all checks passed"
