#!/usr/bin/env bash
# Integration test of deploy/local: starts the whole stack (NATS, PostgreSQL, mosquitto
# and the six services) on free loopback ports in a temporary data folder, checks every
# service's /readyz, /healthz and /metrics, checks that a second `up` leaves everything
# alone, then `down`, and checks that nothing it started is left running or listening.
#
#   DM_BUILD_DIR=build bash tests/integration/local_stack_test.sh
#
# The data folder is always removed (down --purge), even when a check fails.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
UP="$ROOT/deploy/local/up"
DOWN="$ROOT/deploy/local/down"
export DM_BUILD_DIR="${DM_BUILD_DIR:-$ROOT/build}"

SERVICES=(gateway ingest registry flow-orchestrator function-runner integration-dispatcher)
PORT_VARS=(NATS_PORT NATS_HTTP_PORT PG_PORT MQTT_PORT
  API_PORT INGEST_PORT REGISTRY_PORT ORCHESTRATOR_PORT RUNNER_PORT DISPATCHER_PORT)
SERVICE_PORT_VARS=(API_PORT INGEST_PORT REGISTRY_PORT ORCHESTRATOR_PORT RUNNER_PORT DISPATCHER_PORT)

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
pass() { echo "ok: $*"; }

# Free ports, all distinct: bind them all at once, then release them.
read -r -a ports < <(python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
' "${#PORT_VARS[@]}")
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

# --- 3. a second up leaves everything alone -----------------------------------------------
before="$(cat "$DM_DATA_DIR"/pids/*.pid | sort)"
if ! out2="$("$UP" 2>&1)"; then
  echo "$out2" >&2
  fail "second up failed"
else
  pass "second up succeeded"
fi
for name in nats-server postgres mosquitto "${SERVICES[@]}"; do
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
[ "${#pids[@]}" -eq $((3 + ${#SERVICES[@]})) ] || fail "expected $((3 + ${#SERVICES[@]})) pid files, found ${#pids[@]}"
if "$DOWN"; then pass "down succeeded"; else fail "down failed"; fi
for pid in "${pids[@]}"; do
  if alive "$pid"; then fail "pid $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)) still running after down"; fi
done
for v in "${PORT_VARS[@]}"; do
  if port_open "${!v}"; then fail "port ${!v} ($v) still open after down"; fi
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
