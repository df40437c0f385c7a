# Shared by the shell benchmarks: free ports, an admin login, wrk runs with medians.
# Source it after setting ROOT; it defines functions only.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# Values from the secrets deploy/local/up wrote into $DM_DATA_DIR.
bench_secret() { sed -n "s/^$2=//p" "$DM_DATA_DIR/secrets/$1.env"; }
bench_db_url() {
  echo "postgresql://$(bench_secret "$1" DB_USER):$(bench_secret "$1" DB_PASSWORD)@127.0.0.1:$PG_PORT/device_manager"
}

# Creates an admin with dm-admin and prints an access token for it.  <api base URL>
bench_admin_token() {
  local build="${DM_BUILD_DIR:-$ROOT/build}"
  GATEWAY_DATABASE_URL="$(bench_db_url gateway)" DM_ENV_FILE=/nonexistent \
    "$build/tools/dm-admin" create-admin bench@example.com bench bench-password-0123 >/dev/null
  curl -sf -d 'username=bench&password=bench-password-0123' "$1/auth/login" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}

# wrk RUNS times against one URL; prints each run and the medians.  <name> <url> [wrk args...]
# Uses THREADS, CONNECTIONS, DURATION, RUNS.
bench_wrk() {
  local name="$1" url="$2" rates=() p50s=() p99s=() out rate p50 p99 errors
  shift 2
  for r in $(seq 1 "$RUNS"); do
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" "$url")
    rate=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1=="50%" {print $2}' <<<"$out")
    p99=$(awk '$1=="99%" {print $2}' <<<"$out")
    errors=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
    echo "$name run $r: $rate req/s, p50 $p50, p99 $p99${errors:+, non-2xx $errors}"
    rates+=("$rate")
    p50s+=("$(to_ms "$p50")")
    p99s+=("$(to_ms "$p99")")
  done
  echo "$name median: $(printf '%s\n' "${rates[@]}" | median) req/s, p50 $(printf '%s\n' "${p50s[@]}" | median)ms, p99 $(printf '%s\n' "${p99s[@]}" | median)ms"
}

# wrk prints 812.00us, 1.23ms or 1.02s.
to_ms() {
  case "$1" in
    *us) awk -v v="${1%us}" 'BEGIN {printf "%.3f", v / 1000}' ;;
    *ms) echo "${1%ms}" ;;
    *s) awk -v v="${1%s}" 'BEGIN {printf "%.1f", v * 1000}' ;;
    *) echo "$1" ;;
  esac
}
