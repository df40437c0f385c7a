#!/usr/bin/env bash
# The console in a real browser against the real local stack: deploy/local on free ports in a
# temporary data folder, a dm-sink receiver, the first admin (dm-admin), the console built from
# web/ into that folder; then console.mjs drives Debian's Chromium (puppeteer-core, headless)
# through it. Everything it started is stopped and the folder removed, whatever happens.
#
#   DM_BUILD_DIR=build bash tests/browser/console_test.sh
#   DM_SCREENSHOTS=docs/console bash tests/browser/console_test.sh   # also a PNG of each page
set -euo pipefail
ROOT="${DM_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export DM_BUILD_DIR="${DM_BUILD_DIR:-$ROOT/build}"
UP="$ROOT/deploy/local/up"
DOWN="$ROOT/deploy/local/down"
die() { echo "FAIL: $*" >&2; exit 1; }

for b in services/gateway/dm-gateway tools/dm-admin tools/dm-sink; do
  [ -x "$DM_BUILD_DIR/$b" ] || die "$DM_BUILD_DIR/$b not built"
done
[ -x /usr/bin/chromium ] || die "Chromium is not installed: run tools/setup.sh"
[ -d "$ROOT/web/node_modules/puppeteer-core" ] || die "the console's npm packages are not installed: run tools/setup.sh"

# Free ports, all distinct: bound at once, then released.
PORT_VARS=(NATS_PORT NATS_HTTP_PORT PG_PORT MQTT_PORT API_PORT INGEST_PORT REGISTRY_PORT
  ORCHESTRATOR_PORT RUNNER_PORT DISPATCHER_PORT SINK_PORT)
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
DM_DATA_DIR="$(mktemp -d "${TMPDIR:-/tmp}/dm-console-XXXXXX")"
export DM_DATA_DIR REPLICAS=1 READY_TIMEOUT="${READY_TIMEOUT:-90}" STOP_TIMEOUT=10
unset DM_SKIP_SERVICES
# Passed through `up` to the services: the receiver is on loopback; one sandbox worker (2 cores);
# the console under test is the one built from these sources.
export OUTBOUND_ALLOW=127.0.0.1 RUNNER_WORKERS=1 CONSOLE_DIR="$DM_DATA_DIR/console"

SINK_PID=""
. "$ROOT/tests/stack_teardown.sh"
cleanup() {
  local rc=$?
  if [ -n "$SINK_PID" ]; then kill "$SINK_PID" 2>/dev/null || true; wait "$SINK_PID" 2>/dev/null || true; fi
  stack_teardown "$rc" 15
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t0=$SECONDS
( cd "$ROOT/web" && node build.mjs "$CONSOLE_DIR" ) >"$DM_DATA_DIR/console-build.log" 2>&1 ||
  die "the console did not build: $(cat "$DM_DATA_DIR/console-build.log")"
if ! out="$("$UP" 2>&1)"; then
  echo "$out" >&2
  die "deploy/local/up failed"
fi
"$DM_BUILD_DIR/tools/dm-sink" --host 127.0.0.1 --port "$SINK_PORT" >"$DM_DATA_DIR/logs/sink.log" 2>&1 &
SINK_PID=$!
ADMIN_PASSWORD="console-test-password-0123"
(
  set -a
  # shellcheck disable=SC1091
  . "$DM_DATA_DIR/env/gateway.env"
  set +a
  "$DM_BUILD_DIR/tools/dm-admin" create-admin admin@example.com admin "$ADMIN_PASSWORD"
) >/dev/null || die "dm-admin create-admin failed"
echo "ok: stack, receiver and admin ready in $((SECONDS - t0)) s (data folder $DM_DATA_DIR)"

BASE_URL="http://127.0.0.1:$API_PORT" INGEST_URL="http://127.0.0.1:$INGEST_PORT" \
  INGEST_SECRET="$(cat "$DM_DATA_DIR/secrets/ingest_secret")" SINK_URL="http://127.0.0.1:$SINK_PORT" \
  ADMIN_USER=admin ADMIN_PASSWORD="$ADMIN_PASSWORD" PROFILE_DIR="$DM_DATA_DIR/chromium" \
  node "$ROOT/tests/browser/console.mjs"
echo "console_browser_test: passed in $((SECONDS - t0)) s"
