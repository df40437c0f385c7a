#!/usr/bin/env bash
# Scale-out on the local stack: deploy/local/up with REPLICAS=3 (three flow-orchestrators,
# function-runners and integration-dispatchers) on free ports in a temporary data folder.
# Through the REST API (as an admin made with dm-admin): devices with a label, a function,
# an HTTP integration to a local dm-sink, and a flow label → function → integration. Then
# uplinks are posted to ingest's webhook (dm-load) in three phases:
#   1. steady load: every replica of each worker must have handled some of it (/metrics);
#   2. load again, and kill -9 one replica of each worker in the middle of it;
#   3. load again, and SIGTERM another replica of each (scale-in): it drains and exits.
# Afterwards every accepted (2xx) uplink has exactly one flow run (X-Total-Count of the
# flow's history) and reached the receiver exactly once by its Idempotency-Key.
#
#   DM_BUILD_DIR=build bash tests/deploy/scale_test.sh
set -euo pipefail

RATE="${SCALE_RATE:-150}" # uplinks per second posted in each phase
PHASE_SECONDS="${SCALE_SECONDS:-6}"
export REPLICAS=3
# shellcheck source-path=SCRIPTDIR source=scale_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/scale_lib.sh"
eventually 30 views_loaded || die "the orchestrator replicas did not load the flow and devices"
pass "every orchestrator replica sees the flow and the $DEVICES devices"

# --- 1. steady load: the work spreads over every replica ---------------------------------------------
load "$DM_DATA_DIR/load1.json" --rate "$RATE" --duration "$PHASE_SECONDS" || die "dm-load failed: $(cat "$DM_DATA_DIR/load1.json.err")"
ok1="$(accepted "$DM_DATA_DIR/load1.json")"
echo "phase 1: $(cat "$DM_DATA_DIR/load1.json")"
eventually 60 runs_reach "$ok1" || fail "phase 1: $(history_total) flow runs for $ok1 accepted uplinks after 60 s"
for w in "${WORKERS[@]}"; do
  counts=()
  for ((i = 1; i <= REPLICAS; i++)); do counts+=("$(metric "$(worker_port "$w" "$i")" "$(work_metric "$w")")"); done
  spread=1
  for c in "${counts[@]}"; do awk -v c="$c" 'BEGIN { exit !(c > 0) }' || spread=0; done
  if [ "$spread" = 1 ]; then pass "$w: work on all 3 replicas (${counts[*]})"; else
    fail "$w: not every replica worked ($(work_metric "$w") per replica: ${counts[*]})"; fi
done

# --- 2. kill -9 one replica of each worker under load ----------------------------------------------
load "$DM_DATA_DIR/load2.json" --rate "$RATE" --duration "$PHASE_SECONDS" &
load_pid=$!
sleep $((PHASE_SECONDS / 2))
for w in "${WORKERS[@]}"; do
  pid="$(cat "$DM_DATA_DIR/pids/$w-2.pid")"
  if kill -KILL "$pid" 2>/dev/null; then pass "killed $w-2 (pid $pid) under load"; else fail "could not kill $w-2"; fi
done
wait "$load_pid" || die "dm-load failed: $(cat "$DM_DATA_DIR/load2.json.err")"
ok2="$(accepted "$DM_DATA_DIR/load2.json")"
echo "phase 2: $(cat "$DM_DATA_DIR/load2.json")"

# --- 3. scale in: SIGTERM one more replica of each worker under load ----------------------------------
# A stopping replica finishes and acks what it holds and hands back what it queued: nothing
# is lost and nothing waits for ACK_WAIT.
load "$DM_DATA_DIR/load3.json" --rate "$RATE" --duration "$PHASE_SECONDS" &
load_pid=$!
sleep $((PHASE_SECONDS / 2))
term_pids=()
for w in "${WORKERS[@]}"; do
  pid="$(cat "$DM_DATA_DIR/pids/$w-3.pid")"
  kill -TERM "$pid" 2>/dev/null || fail "could not signal $w-3"
  term_pids+=("$w-3:$pid")
done
wait "$load_pid" || die "dm-load failed: $(cat "$DM_DATA_DIR/load3.json.err")"
ok3="$(accepted "$DM_DATA_DIR/load3.json")"
echo "phase 3: $(cat "$DM_DATA_DIR/load3.json")"
gone() { ! kill -0 "$1" 2>/dev/null || grep -q '^State:.*zombie' "/proc/$1/status" 2>/dev/null; }
for entry in "${term_pids[@]}"; do
  inst="${entry%%:*}" pid="${entry##*:}"
  if eventually 30 gone "$pid"; then
    if grep -q '"stopped"' "$DM_DATA_DIR/logs/$inst.log"; then pass "$inst drained and exited after SIGTERM"; else
      fail "$inst exited after SIGTERM without logging \"stopped\""; fi
  else
    fail "$inst still running 30 s after SIGTERM"
  fi
done
total=$((ok1 + ok2 + ok3))

t_kill=$SECONDS
delivered_all() { [ "$(sink_stat unique_keys)" -ge "$total" ]; }
eventually 90 runs_reach "$total" || fail "$(history_total) flow runs for $total accepted uplinks after 90 s"
eventually 60 delivered_all || fail "the receiver got $(sink_stat unique_keys) distinct deliveries for $total accepted uplinks"
echo "recovered $((SECONDS - t_kill)) s after the load ended"
sleep 2 # anything extra would show now
runs="$(history_total)"
success="$(history_total '&status=success')"
unique="$(sink_stat unique_keys)"
received="$(sink_stat received)"
if [ "$runs" = "$total" ]; then pass "exactly one flow run per accepted uplink ($runs)"; else fail "$runs flow runs for $total accepted uplinks"; fi
if [ "$success" = "$total" ]; then pass "every run succeeded"; else fail "$success successful runs of $total"; fi
if [ "$unique" = "$total" ]; then pass "the receiver got every accepted uplink exactly once by Idempotency-Key ($unique)"; else
  fail "the receiver got $unique distinct deliveries for $total accepted uplinks"; fi
echo "receiver: $received requests for $unique keys ($((received - unique)) retried deliveries of the same key after the kills)"

# Nothing else died on the way (a crash would otherwise hide behind the surviving replicas).
for f in "$DM_DATA_DIR"/pids/*.pid; do
  inst="$(basename "$f" .pid)"
  case "$inst" in postgres | *-2 | *-3) continue ;; esac
  kill -0 "$(cat "$f")" 2>/dev/null || fail "$inst exited during the test (log: $(tail -n 2 "$DM_DATA_DIR/logs/$inst.log" | tr '\n' ' '))"
done

if [ "$failures" -gt 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "deploy_scale_test: all checks passed ($total uplinks, 3 replicas of each worker, one of each killed, one stopped)"
