#!/usr/bin/env bash
# Offline checks of the deployment files (no cluster, no Docker):
#  1. `kubectl kustomize` renders k8s/overlays/dev and prod with every kubectl available:
#     the one on PATH and Debian 12's (kubectl 1.20, kustomize v2.0.3), unpacked into
#     .deps/kubectl by tools/setup.sh; every object validates against the Kubernetes / KEDA
#     schemas and the per-service invariants (validate_k8s.cjs).
#  2. The provisioning Job validates too; the CloudNativePG example has the fields it needs.
#  3. deploy/docker-compose.yml is consistent (validate_compose.cjs).
#  4. The generated NATS users (compose and Helm values) equal deploy/docker/nats-auth.sh's
#     output, and the compose NATS configuration loads in nats-server, admits a service with
#     its password from the environment and refuses a wrong one.
#
#   DM_SOURCE_DIR=<repo> bash tests/deploy/k8s_manifests_test.sh
set -euo pipefail
ROOT="${DM_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
HERE="$ROOT/tests/deploy"
export NODE_PATH="$ROOT/.deps/k8s-validate/node_modules"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/dm-k8s-test-XXXXXX")"
NATS_PID=""
cleanup() {
  if [ -n "$NATS_PID" ]; then kill "$NATS_PID" 2>/dev/null || true; wait "$NATS_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

command -v node >/dev/null || { echo "FAIL: node not found: run tools/setup.sh" >&2; exit 1; }
[ -d "$NODE_PATH/kubernetes-models" ] || { echo "FAIL: $NODE_PATH missing: run tools/setup.sh" >&2; exit 1; }

# --- 1. kustomize with every kubectl we have -------------------------------------------------
kubectls=()
if command -v kubectl >/dev/null; then kubectls+=("$(command -v kubectl)"); fi
deb_kubectl="$ROOT/.deps/kubectl/usr/bin/kubectl"
if [ -x "$deb_kubectl" ] && [ "$(readlink -f "$deb_kubectl")" != "$(readlink -f "${kubectls[0]:-/}")" ]; then
  kubectls+=("$deb_kubectl")
fi
[ ${#kubectls[@]} -gt 0 ] || { echo "FAIL: no kubectl: run tools/setup.sh" >&2; exit 1; }
old_kustomize=0
external=()
for s in gateway ingest registry flow-orchestrator function-runner integration-dispatcher; do
  external+=(--external-secret "dm-$s")
done
for k in "${kubectls[@]}"; do
  version="$("$k" version --client 2>/dev/null | grep -o 'v[0-9][0-9.]*' | head -n1 || true)"
  case "$version" in *v1.20.*) old_kustomize=1 ;; esac
  for overlay in dev prod; do
    out="$WORK/$overlay.$(basename "$(dirname "$(dirname "$k")")").yaml"
    if ! "$k" kustomize "$ROOT/k8s/overlays/$overlay" >"$out" 2>"$WORK/err"; then
      cat "$WORK/err" >&2
      fail "$k kustomize k8s/overlays/$overlay"
      continue
    fi
    args=()
    if [ "$overlay" = prod ]; then args=("${external[@]}"); fi
    if node "$HERE/validate_k8s.cjs" "$out" "$overlay" "${args[@]}"; then
      pass "$overlay rendered by $k ($version) validates"
    else
      fail "$overlay rendered by $k does not validate"
    fi
  done
done
if [ "$old_kustomize" = 1 ]; then pass "rendered with kustomize v2.0.3 (kubectl 1.20) too"; else
  echo "note: Debian's kubectl 1.20 not found (.deps/kubectl): kustomize v2.0.3 compatibility not checked"; fi

# --- 2. PostgreSQL examples -----------------------------------------------------------------------
if node - "$ROOT/k8s/postgres" <<'JS'
const fs = require('fs'), path = require('path'), YAML = require('yaml');
const dir = process.argv[2];
const { Job } = require('kubernetes-models/batch/v1/Job');
const job = YAML.parse(fs.readFileSync(path.join(dir, 'provision-job.yaml'), 'utf8'));
new Job(job).validate();
const c = YAML.parse(fs.readFileSync(path.join(dir, 'cloudnativepg-cluster.yaml'), 'utf8'));
const bad = [];
if (c.apiVersion !== 'postgresql.cnpg.io/v1' || c.kind !== 'Cluster') bad.push('not a postgresql.cnpg.io/v1 Cluster');
if (!(c.spec && c.spec.instances >= 1)) bad.push('spec.instances');
if (!(c.spec && c.spec.storage && c.spec.storage.size)) bad.push('spec.storage.size');
if (!/postgresql:15/.test(c.spec.imageName || '')) bad.push('PostgreSQL 15 image');
if (bad.length) { console.error(bad.join(', ')); process.exit(1); }
JS
then pass "k8s/postgres: provisioning Job validates, CloudNativePG Cluster complete"; else fail "k8s/postgres examples"; fi

# --- 3. compose ---------------------------------------------------------------------------------
if node "$HERE/validate_compose.cjs" "$ROOT/deploy"; then pass "docker-compose.yml consistent"; else fail "docker-compose.yml"; fi

# --- 4. NATS users --------------------------------------------------------------------------------
if diff -u "$ROOT/deploy/docker/nats-auth.conf" <(bash "$ROOT/deploy/docker/nats-auth.sh" conf) >"$WORK/d1"; then
  pass "deploy/docker/nats-auth.conf is current"
else
  cat "$WORK/d1" >&2
  fail "deploy/docker/nats-auth.conf differs from deploy/local/nats_users.sh: run deploy/docker/nats-auth.sh conf > deploy/docker/nats-auth.conf"
fi
if diff -u "$ROOT/k8s/nats/values.yaml" <(bash "$ROOT/deploy/docker/nats-auth.sh" helm) >"$WORK/d2"; then
  pass "k8s/nats/values.yaml is current"
else
  cat "$WORK/d2" >&2
  fail "k8s/nats/values.yaml differs: run deploy/docker/nats-auth.sh helm > k8s/nats/values.yaml"
fi
if node -e '
const YAML = require("yaml"); const v = YAML.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const c = v.config, bad = [];
if (!(c.cluster && c.cluster.enabled && c.cluster.replicas === 3)) bad.push("cluster of 3 replicas");
if (!(c.jetstream && c.jetstream.enabled && c.jetstream.fileStore && c.jetstream.fileStore.enabled)) bad.push("JetStream file storage");
const users = c.merge.authorization.users.map((u) => u.user);
for (const u of ["gateway","ingest","registry","flow-orchestrator","function-runner","integration-dispatcher","provision","tap"])
  if (!users.includes(u)) bad.push("user " + u);
if (bad.length) { console.error("missing: " + bad.join(", ")); process.exit(1); }' "$ROOT/k8s/nats/values.yaml"; then
  pass "k8s/nats/values.yaml: JetStream file storage, 3 replicas, every user"
else
  fail "k8s/nats/values.yaml"
fi

free_ports() { python3 -c '
import socket
s=[socket.socket() for _ in range(3)]
[x.bind(("127.0.0.1",0)) for x in s]
print(" ".join(str(x.getsockname()[1]) for x in s))'; }
# Sends CONNECT with user/password and PING; prints the server's answer line.
nats_hello() { # <port> <user> <password>
  exec 3<>"/dev/tcp/127.0.0.1/$1"
  printf 'CONNECT {"verbose":false,"pedantic":false,"user":"%s","pass":"%s"}\r\nPING\r\n' "$2" "$3" >&3
  local line reply=""
  while IFS= read -r -t 3 line <&3; do
    line="${line%$'\r'}"
    case "$line" in PONG | -ERR*) reply="$line"; break ;; esac
  done
  exec 3>&-
  echo "$reply"
}
if command -v nats-server >/dev/null; then
  read -r port mport rport < <(free_ports)
  mkdir -p "$WORK/nats/data"
  cp "$ROOT/deploy/docker/nats.conf" "$ROOT/deploy/docker/nats-auth.conf" "$WORK/nats/"
  # One node of the compose cluster, alone: its routes to nats-2 and nats-3 just stay unresolved.
  sed -i -e "s#store_dir: /data#store_dir: $WORK/nats/data#" -e "s#listen: 0.0.0.0:6222#listen: 127.0.0.1:$rport#" \
    "$WORK/nats/nats.conf"
  # sync_interval arrived in nats-server 2.10 (the compose image); Debian 12 ships 2.9.
  if [[ "$(nats-server --version)" =~ v2\.[0-9]\. ]]; then sed -i '/sync_interval:/d' "$WORK/nats/nats.conf"; fi
  export NATS_SERVER_NAME=nats-1
  for v in GATEWAY INGEST REGISTRY ORCHESTRATOR RUNNER DISPATCHER TAP PROVISION; do export "${v}_NATS_PASSWORD=pw-${v,,}-0123"; done
  nats-server -c "$WORK/nats/nats.conf" -a 127.0.0.1 -p "$port" -m "$mport" >"$WORK/nats.log" 2>&1 &
  NATS_PID=$!
  for _ in $(seq 50); do curl -fs -o /dev/null "http://127.0.0.1:$mport/healthz" && break; sleep 0.1; done
  if curl -fs "http://127.0.0.1:$mport/jsz" | grep -q '"config"'; then pass "compose nats.conf loads with JetStream"; else
    cat "$WORK/nats.log" >&2; fail "compose nats.conf does not start nats-server with JetStream"; fi
  r="$(nats_hello "$port" flow-orchestrator pw-orchestrator-0123)"
  if [ "$r" = PONG ]; then pass "flow-orchestrator connects with ORCHESTRATOR_NATS_PASSWORD"; else fail "flow-orchestrator refused: $r"; fi
  r="$(nats_hello "$port" gateway wrong-password)"
  if [[ "$r" == -ERR* ]]; then pass "a wrong password is refused"; else fail "wrong password answered '$r'"; fi
else
  fail "nats-server not found: run tools/setup.sh"
fi

if [ "$failures" -gt 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "k8s_manifests_test: all checks passed"
