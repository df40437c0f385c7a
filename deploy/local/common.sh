# shellcheck shell=bash disable=SC2034  # variables are used by the scripts that source this
# Shared by deploy/local/up and deploy/local/down (sourced, never run): settings with
# their defaults, the layout of the data folder, and small helpers. See README.md.

DM_LOCAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$DM_LOCAL_DIR/../.." && pwd)"

# --- settings (every one can be overridden from the environment) -------------------
DATA="${DM_DATA_DIR:-$REPO_ROOT/.data}"
BUILD_DIR="${DM_BUILD_DIR:-$REPO_ROOT/build}"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_DATABASE="${PG_DATABASE:-device_manager}"
NATS_PORT="${NATS_PORT:-4222}"
NATS_HTTP_PORT="${NATS_HTTP_PORT:-8222}"
# 1: one nats-server; 3: a JetStream cluster of three on loopback (streams replicated on all three).
NATS_NODES="${NATS_NODES:-1}"
NATS_CLUSTER_PORT="${NATS_CLUSTER_PORT:-6222}"
PG_PORT="${PG_PORT:-55432}"
MQTT_PORT="${MQTT_PORT:-1883}"
API_PORT="${API_PORT:-8000}"
INGEST_PORT="${INGEST_PORT:-8001}"
REGISTRY_PORT="${REGISTRY_PORT:-8002}"
ORCHESTRATOR_PORT="${ORCHESTRATOR_PORT:-8003}"
RUNNER_PORT="${RUNNER_PORT:-8004}"
DISPATCHER_PORT="${DISPATCHER_PORT:-8005}"
REPLICAS="${REPLICAS:-1}"
LOG_LEVEL="${LOG_LEVEL:-info}"
READY_TIMEOUT="${READY_TIMEOUT:-60}"
STOP_TIMEOUT="${STOP_TIMEOUT:-15}"

# Make the data folder absolute: pid files and configuration refer to it.
case "$DATA" in
  /*) ;;
  *) DATA="$PWD/$DATA" ;;
esac
case "$BUILD_DIR" in
  /*) ;;
  *) BUILD_DIR="$PWD/$BUILD_DIR" ;;
esac

# --- layout ----------------------------------------------------------------------
PIDS="$DATA/pids"
LOGS="$DATA/logs"
ENVS="$DATA/env"
SECRETS="$DATA/secrets"
PGDATA="$DATA/pg"
PG_RUN="$DATA/run"          # PostgreSQL's unix socket folder
MARKER="$DATA/.dm-local"    # proves the folder was made by `up` (down --purge checks it)

# The services in start order; the workers can run as several replicas.
SERVICES=(gateway ingest registry flow-orchestrator function-runner integration-dispatcher)
WORKERS=(flow-orchestrator function-runner integration-dispatcher)

# --- helpers -----------------------------------------------------------------------
log() { printf '%s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

is_root() { [ "$(id -u)" = 0 ]; }

# Runs a PostgreSQL server program: as root through the `postgres` system user
# (initdb and pg_ctl refuse root), otherwise as ourselves.
as_pg() {
  if is_root; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# The configuration scope of a service: its environment-variable prefix.
scope_of() {
  case "$1" in
    gateway) echo GATEWAY ;;
    ingest) echo INGEST ;;
    registry) echo REGISTRY ;;
    flow-orchestrator) echo ORCHESTRATOR ;;
    function-runner) echo RUNNER ;;
    integration-dispatcher) echo DISPATCHER ;;
    *) die "unknown service '$1'" ;;
  esac
}

# The service's PostgreSQL role and schema: dm_<scope> and <scope>, lower case.
role_of() {
  local s
  s="$(scope_of "$1")"
  echo "dm_${s,,}"
}
schema_of() {
  local s
  s="$(scope_of "$1")"
  echo "${s,,}"
}

is_worker() {
  local w
  for w in "${WORKERS[@]}"; do [ "$w" = "$1" ] && return 0; done
  return 1
}

# The base port of a service (replica 1); replica i listens on base + 10*(i-1).
base_port_of() {
  case "$1" in
    gateway) echo "$API_PORT" ;;
    ingest) echo "$INGEST_PORT" ;;
    registry) echo "$REGISTRY_PORT" ;;
    flow-orchestrator) echo "$ORCHESTRATOR_PORT" ;;
    function-runner) echo "$RUNNER_PORT" ;;
    integration-dispatcher) echo "$DISPATCHER_PORT" ;;
  esac
}
port_of() { # <service> <replica>
  echo $(($(base_port_of "$1") + 10 * ($2 - 1)))
}

# Instance names: "<service>" for replica 1, "<service>-<i>" for the others. Pid, log and
# env files are named after the instance.
instance_of() { # <service> <replica>
  if [ "$2" -le 1 ]; then echo "$1"; else echo "$1-$2"; fi
}

binary_of() { echo "$BUILD_DIR/services/$1/dm-$1"; }

# True if 127.0.0.1:<port> accepts TCP connections.
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Is <pid> alive and the program we started? The base name of argv[0] (or of argv[1], for
# a program run through an interpreter such as a script) must be <name>, and
# <marker> (when given) must be one whole argument or environment entry of the process,
# so another stack's processes (other data folder) or a recycled pid never match.
proc_matches() { # <pid> <name> [<marker>]
  local pid="$1" name="$2" marker="${3:-}" argv0="" argv1=""
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  {
    IFS= read -r -d '' argv0 && { IFS= read -r -d '' argv1 || true; }
  } <"/proc/$pid/cmdline" 2>/dev/null || return 1
  [ "${argv0##*/}" = "$name" ] || [ "${argv1##*/}" = "$name" ] || return 1
  [ -z "$marker" ] && return 0
  grep -qzxF -- "$marker" "/proc/$pid/cmdline" "/proc/$pid/environ" 2>/dev/null
}

# True once <pid> has exited (no such process, or a zombie waiting to be reaped).
proc_gone() { # <pid>
  local stat=""
  [ -e "/proc/$1" ] || return 0
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 0
  [ -n "$stat" ] || return 0
  stat="${stat##*) }"
  [ "${stat%% *}" = Z ]
}

# Prints the pid recorded in <pidfile> if that process is alive and matches.
live_pid() { # <pidfile> <name> [<marker>]
  local pid
  [ -f "$1" ] || return 1
  pid="$(head -n1 "$1" 2>/dev/null || true)"
  proc_matches "$pid" "$2" "${3:-}" || return 1
  echo "$pid"
}

# Identity of each component: program name and marker (see proc_matches).
# NATS: one node keeps the layout of earlier versions (nats/nats.conf, pids/nats.pid); in a
# cluster node i has nats/node-i/ and pids/nats-i.pid. Node i listens on the base ports + 10(i-1).
NATS_CONF="$DATA/nats/nats.conf"
nats_conf_of() { if [ "$NATS_NODES" = 1 ]; then echo "$NATS_CONF"; else echo "$DATA/nats/node-$1/nats.conf"; fi; }
nats_store_of() { if [ "$NATS_NODES" = 1 ]; then echo "$DATA/nats"; else echo "$DATA/nats/node-$1"; fi; }
# How up and down name a node in what they print: "nats-server", or "nats-server <i>" in a cluster.
nats_label_of() { if [ "$NATS_NODES" = 1 ]; then echo "nats-server"; else echo "nats-server $1"; fi; }
nats_pidfile_of() { if [ "$NATS_NODES" = 1 ]; then echo "$PIDS/nats.pid"; else echo "$PIDS/nats-$1.pid"; fi; }
nats_port_of() { echo $((NATS_PORT + 10 * ($1 - 1))); }
nats_http_port_of() { echo $((NATS_HTTP_PORT + 10 * ($1 - 1))); }
nats_route_port_of() { echo $((NATS_CLUSTER_PORT + 10 * ($1 - 1))); }
# Every node, for the clients: they reconnect to a live one by themselves.
nats_urls() {
  local i urls=""
  for ((i = 1; i <= NATS_NODES; i++)); do urls+="${urls:+,}nats://127.0.0.1:$(nats_port_of "$i")"; done
  echo "$urls"
}
MQTT_CONF="$DATA/mosquitto/mosquitto.conf"
service_marker() { echo "DM_ENV_FILE=$ENVS/$1.env"; } # <instance>

# Is our PostgreSQL cluster running? (pg_ctl status: 0 running, 3 stopped, 4 no cluster.)
pg_running() {
  [ -f "$PGDATA/PG_VERSION" ] || return 1
  as_pg "$PG_BIN/pg_ctl" status -D "$PGDATA" >/dev/null 2>&1
}

# Sends SIGTERM to the listed pids, waits up to STOP_TIMEOUT seconds until they have all
# exited (sockets closed), then SIGKILLs whatever is left. Arguments are "pid:name:marker"
# triples, re-checked before each signal so a pid recycled meanwhile is never touched.
stop_pids() {
  local entry pid name marker waited=0 left
  local -a alive=()
  for entry in "$@"; do
    IFS=: read -r pid name marker <<<"$entry"
    if proc_matches "$pid" "$name" "$marker"; then
      kill -TERM "$pid" 2>/dev/null || true
      alive+=("$entry")
    fi
  done
  while [ ${#alive[@]} -gt 0 ] && [ "$waited" -lt $((STOP_TIMEOUT * 10)) ]; do
    sleep 0.1
    waited=$((waited + 1))
    left=()
    for entry in "${alive[@]}"; do
      IFS=: read -r pid name marker <<<"$entry"
      proc_gone "$pid" || left+=("$entry")
    done
    alive=("${left[@]+"${left[@]}"}")
  done
  for entry in "${alive[@]+"${alive[@]}"}"; do
    IFS=: read -r pid name marker <<<"$entry"
    if proc_matches "$pid" "$name" "$marker"; then
      warn "$name (pid $pid) did not stop within ${STOP_TIMEOUT}s: sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}
