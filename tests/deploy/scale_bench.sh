#!/usr/bin/env bash
# Scale-out benchmark (not a CTest test): end-to-end throughput of the local stack with
# REPLICAS workers. Each run posts SCALE_REQUESTS uplinks flat out (dm-load, 16 connections)
# and measures accepted/s, flow runs recorded/s and deliveries/s (all from the start of the
# run); prints the median of SCALE_RUNS runs and the per-replica share of the work.
#
#   DM_BUILD_DIR=build REPLICAS=1 bash tests/deploy/scale_bench.sh
#   DM_BUILD_DIR=build REPLICAS=3 bash tests/deploy/scale_bench.sh
#   (SCALE_REQUESTS=5000 SCALE_RUNS=3 SCALE_DEVICES=24 SCALE_FN_BUSY_MS=0)
set -euo pipefail
REQUESTS="${SCALE_REQUESTS:-5000}"
RUNS="${SCALE_RUNS:-3}"
export SCALE_DEVICES="${SCALE_DEVICES:-24}"
# shellcheck source-path=SCRIPTDIR source=scale_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/scale_lib.sh"
eventually 30 views_loaded || die "the orchestrator replicas did not load the flow and devices"

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'; }
done_runs=0
accept_rates=() flow_rates=() delivery_rates=()
for ((run = 1; run <= RUNS; run++)); do
  t0="$(now)"
  load "$DM_DATA_DIR/bench$run.json" --connections 16 --requests "$REQUESTS" --duration 600 ||
    die "dm-load failed: $(cat "$DM_DATA_DIR/bench$run.json.err")"
  t1="$(now)"
  ok="$(accepted "$DM_DATA_DIR/bench$run.json")"
  done_runs=$((done_runs + ok))
  eventually 600 runs_reach "$done_runs" || die "flow runs did not reach $done_runs"
  t2="$(now)"
  delivered() { [ "$(sink_stat unique_keys)" -ge "$done_runs" ]; }
  eventually 600 delivered || die "deliveries did not reach $done_runs"
  t3="$(now)"
  accept_rates+=("$(rate "$ok" "$t0" "$t1")")
  flow_rates+=("$(rate "$ok" "$t0" "$t2")")
  delivery_rates+=("$(rate "$ok" "$t0" "$t3")")
  echo "run $run: $ok uplinks; accepted ${accept_rates[-1]}/s, flow runs ${flow_rates[-1]}/s, delivered ${delivery_rates[-1]}/s"
  echo "  dm-load: $(cat "$DM_DATA_DIR/bench$run.json")"
done
for w in "${WORKERS[@]}"; do
  counts=()
  for ((i = 1; i <= REPLICAS; i++)); do counts+=("$(metric "$(worker_port "$w" "$i")" "$(work_metric "$w")")"); done
  echo "$w per replica ($(work_metric "$w")): ${counts[*]}"
done
echo "REPLICAS=$REPLICAS median of $RUNS: accepted $(printf '%s\n' "${accept_rates[@]}" | median)/s," \
  "flow runs $(printf '%s\n' "${flow_rates[@]}" | median)/s, delivered $(printf '%s\n' "${delivery_rates[@]}" | median)/s" \
  "(load average $(cut -d' ' -f1-3 /proc/loadavg))"
