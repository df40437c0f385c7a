#!/usr/bin/env bash
# CPU per uplink of the whole stack (issue 22): the six services, nats-server, PostgreSQL and
# mosquitto pinned to CPU 0 (deploy/local/up under taskset), the load generator (dm-load) and
# the receiver (dm-sink) on CPU 1. The flow is webhook → label flow → function → HTTP delivery,
# every history recorded. For each rate it posts for DURATION seconds, waits until the last
# delivery, and divides the CPU time the stack's processes used by the uplinks delivered.
#
#   tools/bench/cpu.sh                        # rates 200 600 1000 max, DURATION=30
#   RATES="600 max" DURATION=20 tools/bench/cpu.sh
#   RATES=idle tools/bench/cpu.sh               # no load: the stack's CPU per second at rest
#   THREADS=1 RATES=200 tools/bench/cpu.sh      # also the 25 threads switching most, per uplink
#   PGSTATS=1 RATES=200 tools/bench/cpu.sh      # also PostgreSQL commits, WAL bytes, row writes and bytes stored per uplink,
#                                              # and the bytes DM_DEVICE_EVENTS keeps per uplink
#   COLUMNS=1 RATES=200 tools/bench/cpu.sh      # also the average bytes stored per row, by column, of each history table
#   WAL_WARMUP=0 tools/bench/cpu.sh             # a new PostgreSQL cluster (default: 1024 MB of WAL to reuse)
#   CONNS=1 RATES=200 tools/bench/cpu.sh        # also NATS messages per uplink by client connection
#   tools/bench/cpu.sh --root ../old-checkout  # the same against another checkout's build
#                                              # (alternate runs with the commit before)
# Prints one line per rate: uplinks delivered, achieved rate, µs of CPU per uplink in all, NATS
# messages in and out and context switches (all the stack's threads) per uplink, and µs of CPU
# per uplink by process kind. "max" posts as fast as the stack accepts (a backlog builds and drains).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
if [ "${1:-}" = --root ]; then ROOT="$(cd "$2" && pwd)"; shift 2; fi
export DM_BUILD_DIR="${DM_BUILD_DIR:-$ROOT/build}"
. "$HERE/common.sh"
RATES="${RATES:-200 600 1000 max}"
DURATION="${DURATION:-30}"
DEVICES="${DEVICES:-100}"
STACK_CPU="${STACK_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"
# The bench tools come from this checkout's build (they only speak HTTP to the stack).
TOOLS_BUILD="${TOOLS_BUILD:-$(cd "$HERE/../.." && pwd)/build}"

export DM_DATA_DIR="$(mktemp -d "${TMPDIR:-/tmp}/dm-cpu-bench-XXXXXX")"
# Below Linux's ephemeral range (32768–60999): a port in it may be taken meanwhile by any
# outgoing connection, the stack's own included.
base=$((20000 + RANDOM % 1200 * 10))
export NATS_PORT=$base NATS_HTTP_PORT=$((base + 1)) PG_PORT=$((base + 2)) MQTT_PORT=$((base + 3))
export API_PORT=$((base + 4)) INGEST_PORT=$((base + 5)) REGISTRY_PORT=$((base + 6))
export ORCHESTRATOR_PORT=$((base + 7)) RUNNER_PORT=$((base + 8)) DISPATCHER_PORT=$((base + 9))
SINK_PORT=$((base + 11))
export OUTBOUND_ALLOW=127.0.0.1 LOG_LEVEL=warn
sink_pid=""
cleanup() {
  [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null || true
  "$ROOT/deploy/local/down" --purge >/dev/null 2>&1 || true
}
trap cleanup EXIT

taskset -c "$STACK_CPU" "$ROOT/deploy/local/up" >/dev/null
taskset -c "$LOAD_CPU" "$TOOLS_BUILD/tools/dm-sink" --port "$SINK_PORT" --threads 2 >/dev/null 2>&1 &
sink_pid=$!
API="http://127.0.0.1:$API_PORT/api/v1"
TOKEN="$(bench_admin_token "$API")"
api() { curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
id_of() { python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }

# A label with DEVICES devices (the EUIs dm-load sends), and the flow label → function → HTTP.
label="$(api -d '{"name":"cpu-bench"}' "$API/labels" | id_of)"
for ((i = 0; i < DEVICES; i++)); do
  eui="$(printf '70b3d5%010x' "$i")"
  dev="$(api -d "{\"dev_eui\":\"$eui\",\"name\":\"cpu-$i\"}" "$API/devices" | id_of)"
  api -X POST "$API/labels/$label/devices/$dev" >/dev/null
done
fn="$(api -d '{"name":"cpu-bench","code":"function process(m) { return {dev: m.dev_eui, n: m.f_cnt, t: m.data}; }"}' \
  "$API/functions" | id_of)"
integ="$(api -d "{\"name\":\"cpu-bench\",\"type\":\"http\",\"config\":{\"url\":\"http://127.0.0.1:$SINK_PORT/in\"}}" \
  "$API/integrations" | id_of)"
api -d "{\"name\":\"cpu-bench\",\"enabled\":true,\"nodes\":[{\"id\":\"t\",\"type\":\"label\",\"data\":{\"entityId\":\"$label\"}},
  {\"id\":\"f\",\"type\":\"function\",\"data\":{\"entityId\":\"$fn\"}},{\"id\":\"i\",\"type\":\"integration\",\"data\":{\"entityId\":\"$integ\"}}],
  \"edges\":[{\"id\":\"e1\",\"source\":\"t\",\"target\":\"f\"},{\"id\":\"e2\",\"source\":\"f\",\"target\":\"i\"}]}" \
  "$API/flows" >/dev/null
SECRET="$(cat "$DM_DATA_DIR/secrets/ingest_secret")"
WEBHOOK="http://127.0.0.1:$INGEST_PORT/api/v1/ingest/chirpstack?event=up"

# CPU ticks (utime + stime) of every process pinned to STACK_CPU, by kind: "<kind> <ticks>".
stack_ticks() {
  local pid kind
  for status in /proc/[0-9]*/status; do
    pid="${status#/proc/}"
    pid="${pid%/status}"
    grep -q "^Cpus_allowed_list:[[:space:]]*$STACK_CPU\$" "$status" 2>/dev/null || continue
    kind="$(cat "/proc/$pid/comm" 2>/dev/null)" || continue
    case "$kind" in dm-*) ;; nats-server | postgres | mosquitto) ;; *) kind="other" ;; esac
    awk -v k="$kind" '{ sub(/^.*\) /, ""); print k, $12 + $13 }' "/proc/$pid/stat" 2>/dev/null || true
  done | awk '{ t[$1] += $2 } END { for (k in t) print k, t[k] }' | sort
}
# Messages into and out of nats-server, and context switches of the stack's threads.
nats_msgs() { curl -sf "http://127.0.0.1:$NATS_HTTP_PORT/varz" | python3 -c 'import json,sys; v=json.load(sys.stdin); print(v["in_msgs"], v["out_msgs"])'; }
switches() { # "<kind> <switches>" over every thread of the stack
  local pid kind
  for status in /proc/[0-9]*/status; do
    grep -q "^Cpus_allowed_list:[[:space:]]*$STACK_CPU\$" "$status" 2>/dev/null || continue
    pid="${status#/proc/}"
    pid="${pid%/status}"
    kind="$(cat "/proc/$pid/comm" 2>/dev/null)" || continue
    case "$kind" in dm-*) ;; nats-server | postgres | mosquitto) ;; *) kind="other" ;; esac
    for t in /proc/"$pid"/task/*/status; do
      awk -v k="$kind" '/^(voluntary|nonvoluntary)_ctxt_switches/ { s += $2 } END { print k, s + 0 }' "$t" 2>/dev/null
    done
  done | awk '{ s[$1] += $2 } END { for (k in s) print k, s[k] }' | sort
}
thread_switches() { # "<process>/<thread> <switches>" for every thread of the stack
  for status in /proc/[0-9]*/status; do
    grep -q "^Cpus_allowed_list:[[:space:]]*$STACK_CPU\$" "$status" 2>/dev/null || continue
    local dir="${status%/status}" proc
    proc="$(cat "$dir/comm" 2>/dev/null)" || continue
    for t in "$dir"/task/*; do
      awk -v k="$proc/$(tr ' ' _ <"$t/comm" 2>/dev/null)" '/^(voluntary|nonvoluntary)_ctxt_switches/ { s += $2 } END { print k, s + 0 }' "$t/status" 2>/dev/null
    done
  done | awk '{ s[$1] += $2 } END { for (k in s) print k, s[k] }' | sort
}
pg_sql() { # statements on stdin, each in its own transaction, as the superuser
  PGPASSWORD="$(sed -n 's/^POSTGRES_PASSWORD=//p' "$DM_DATA_DIR/secrets/postgres.env")" \
    psql -X -q -A -t -F ' ' -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "${PG_DATABASE:-device_manager}"
}
pg_stats() { # "<what> <count>": commits of the database, WAL bytes and full-page images, rows written per table,
  # bytes per table (with its TOAST) and per index
  echo "SELECT 'commits', xact_commit FROM pg_stat_database WHERE datname = current_database()
      UNION ALL SELECT 'wal_bytes', wal_bytes FROM pg_stat_wal
      UNION ALL SELECT 'wal_full_pages', wal_fpi FROM pg_stat_wal
      UNION ALL SELECT schemaname || '.' || relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables
      UNION ALL SELECT 'bytes:' || schemaname || '.' || relname, pg_table_size(relid) FROM pg_stat_user_tables
      UNION ALL SELECT 'bytes:' || schemaname || '.' || indexrelname, pg_relation_size(indexrelid) FROM pg_stat_user_indexes" |
    pg_sql | sort
}
stream_bytes() { # "stream_bytes:<stream> <bytes>" for each JetStream stream, as nats-server counts them
  curl -sf "http://127.0.0.1:$NATS_HTTP_PORT/jsz?streams=true" | python3 -c '
import json, sys
for a in json.load(sys.stdin).get("account_details", []):
    for s in a.get("stream_detail", []):
        print("stream_bytes:" + s["name"], s["state"]["bytes"])'
}
nats_conns() { # "<connection name> <msgs from it> <msgs to it>" (connz counts as the server sees them)
  curl -sf "http://127.0.0.1:$NATS_HTTP_PORT/connz?limit=1024" | python3 -c '
import json, sys
for c in json.load(sys.stdin)["connections"]:
    print((c.get("name") or "?").split("@")[0] + (c.get("name", "").endswith("/rpc") and "/rpc" or ""), c["in_msgs"], c["out_msgs"])' |
    awk '{ i[$1] += $2; o[$1] += $3 } END { for (k in i) print k, i[k], o[k] }' | sort
}
received() { curl -sf "http://127.0.0.1:$SINK_PORT/_sink/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["received"])'; }

# Warm up PostgreSQL's WAL as in a cluster that has run for a while: a new cluster writes
# every 16 MB segment full of zeros before its first use, a running one reuses the segments its
# checkpoints freed (min_wal_size, deploy/local/up). 1 GB covers the ≈ 1 GB all the rates here
# write (the 10,000/s latency bench warms 2 GB); a 2 GB warm-up measured 10–25 % more CPU per
# uplink at 200–1,000/s on this VM, in every process, for a reason not found
# (docs/performance.md). WAL_WARMUP=0: measure a new cluster.
if [ "${WAL_WARMUP:-1024}" -gt 0 ]; then
  {
    echo "CREATE TABLE bench_wal_warmup (x int);"
    for _ in $(seq 1 $((${WAL_WARMUP:-1024} / 16))); do
      echo "INSERT INTO bench_wal_warmup VALUES (1);"
      echo "SELECT pg_switch_wal();"
    done
    echo "DROP TABLE bench_wal_warmup;"
    echo "CHECKPOINT;"
  } | pg_sql >/dev/null
fi
# Warm up: caches, connections, V8 workers.
taskset -c "$LOAD_CPU" "$TOOLS_BUILD/tools/dm-load" --url "$WEBHOOK" --secret "$SECRET" --rate 200 --duration 5 \
  --devices "$DEVICES" >/dev/null
sleep 3
HZ="$(getconf CLK_TCK)"
printf '%-6s %9s %9s %10s %6s %6s %6s  %s\n' rate delivered "per s" "µs/uplink" "in" "out" "cs" "by process (µs/uplink)"
for rate in $RATES; do
  before_sink="$(received)"
  read -r in0 out0 < <(nats_msgs)
  cs_before="$(switches)"
  [ -n "${THREADS:-}" ] && threads_before="$(thread_switches)"
  [ -n "${PGSTATS:-}" ] && pg_before="$( (pg_stats; stream_bytes) | sort)"
  [ -n "${CONNS:-}" ] && conns_before="$(nats_conns)"
  before="$(stack_ticks)"
  t0="$(date +%s.%N)"
  args=(--rate "$rate")
  [ "$rate" = max ] && args=(--rate 0 --connections 64)
  if [ "$rate" = idle ]; then
    sleep "$DURATION"
    after="$(stack_ticks)"
    join -a2 -e0 -o 0,1.2,2.2 <(echo "$before") <(echo "$after") |
      awk -v hz="$HZ" -v secs="$DURATION" '
        { d = ($3 - $2) * 1e6 / hz / secs; total += d; if (d > 0) line = line sprintf("%s %.0f  ", $1, d) }
        END { printf "idle   %9s %9s %10.0f  µs of CPU per second: %s\n", "-", "-", total, line }'
    continue
  fi
  taskset -c "$LOAD_CPU" "$TOOLS_BUILD/tools/dm-load" --url "$WEBHOOK" --secret "$SECRET" "${args[@]}" \
    --duration "$DURATION" --devices "$DEVICES" --json >/dev/null
  # Until the last delivery: the count stops moving for 2 s.
  last=-1
  while :; do
    now="$(received)"
    [ "$now" = "$last" ] && break
    last="$now"
    sleep 2
  done
  t1="$(date +%s.%N)"
  after="$(stack_ticks)"
  read -r in1 out1 < <(nats_msgs)
  cs_after="$(switches)"
  [ -n "${THREADS:-}" ] && threads_after="$(thread_switches)"
  [ -n "${PGSTATS:-}" ] && sleep 1 && pg_after="$( (pg_stats; stream_bytes) | sort)"  # the statistics collector lags a little
  [ -n "${CONNS:-}" ] && conns_after="$(nats_conns)"
  delivered=$((last - before_sink))
  join -a2 -e0 -o 0,1.2,2.2 <(echo "$before") <(echo "$after") |
    awk -v n="$delivered" -v hz="$HZ" -v rate="$rate" -v secs="$(echo "$t1 - $t0 - 2" | bc)" \
      -v msgs_in=$((in1 - in0)) -v msgs_out=$((out1 - out0)) \
      -v cs="$(join -a2 -e0 -o 0,1.2,2.2 <(echo "$cs_before") <(echo "$cs_after") | awk '{ s += $3 - $2 } END { print s }')" '
      { d = ($3 - $2) * 1e6 / hz; total += d; part[$1] = d }
      END {
        line = ""
        for (k in part) if (part[k] > 0) line = line sprintf("%s %.0f  ", k, part[k] / (n ? n : 1))
        m = n ? n : 1
        printf "%-6s %9d %9.0f %10.0f %6.1f %6.1f %6.1f  %s\n", rate, n, n / secs, total / m, msgs_in / m, msgs_out / m,
          cs / m, line
      }'
  join -a2 -e0 -o 0,1.2,2.2 <(echo "$cs_before") <(echo "$cs_after") |
    awk -v n="$delivered" '{ if ($3 > $2) line = line sprintf("%s %.1f  ", $1, ($3 - $2) / (n ? n : 1)) }
      END { printf "%-6s %48s  context switches per uplink: %s\n", "", "", line }'
  if [ -n "${CONNS:-}" ]; then
    join -a2 -e0 -o 0,1.2,1.3,2.2,2.3 <(echo "$conns_before") <(echo "$conns_after") |
      awk -v n="$delivered" '{ d = n ? n : 1; if ($4 > $2 || $5 > $3) printf "%8.2f in %6.2f out  %s\n", ($4 - $2) / d, ($5 - $3) / d, $1 }' |
      sort -rn
  fi
  if [ -n "${PGSTATS:-}" ]; then
    join -a2 -e0 -o 0,1.2,2.2 <(echo "$pg_before") <(echo "$pg_after") |
      awk -v n="$delivered" '$3 > $2 { printf "%8.2f %s per uplink\n", ($3 - $2) / (n ? n : 1), $1 }' | sort -rn
  fi
  if [ -n "${THREADS:-}" ]; then
    join -a2 -e0 -o 0,1.2,2.2 <(echo "$threads_before") <(echo "$threads_after") |
      awk -v n="$delivered" '{ printf "%8.2f %s\n", ($3 - $2) / (n ? n : 1), $1 }' | sort -rn | head -25
  fi
done
if [ -n "${COLUMNS:-}" ]; then
  # One query per table: the average stored (possibly compressed) size of each column.
  echo "SELECT table_schema || '.' || table_name || '|' || string_agg(format('avg(pg_column_size(%I))::int', column_name),
          ', ' ORDER BY ordinal_position) || '|' || string_agg(column_name, ' ' ORDER BY ordinal_position)
        FROM information_schema.columns WHERE table_name IN ('device_events', 'flow_runs', 'function_runs', 'history')
        GROUP BY table_schema, table_name" | pg_sql | while IFS='|' read -r table sizes names; do
    echo "SELECT $sizes FROM $table" | pg_sql | paste -d ' ' <(tr ' ' '\n' <<<"$names") <(tr ' ' '\n') |
      awk -v t="$table" '{ printf "%8s B  %s.%s\n", $2, t, $1 }'
  done
fi
