#!/usr/bin/env bash
# Ingest webhook benchmark (issue 5): durable acceptance flat out and p99 at a fixed rate,
# RUNS runs each, medians printed. Builds what it needs into BUILD_DIR (default build/).
#   tools/bench/ingest.sh                       # RUNS=3 DURATION=10 CONNECTIONS=256 RATE=5000
# Each connection posts one webhook at a time and ingest answers a webhook once its batch is
# stored (up to INGEST_BATCH_LINGER later), so flat out needs many connections, as ChirpStack's
# concurrent posts provide.
#   BUILD_DIR=build-x HTTP_THREADS=2 WRK=1 tools/bench/ingest.sh   # WRK=1: flat-out runs with wrk
#   NO_HISTORY=1 tools/bench/ingest.sh   # PostgreSQL stopped during the runs: acceptance alone
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
cmake --build "$BUILD_DIR" --target dm-ingest dm-registry dm-load dm-ingest-bench >/dev/null
cd "$ROOT"
DM_SOURCE_DIR="$ROOT" DM_BINARY_DIR="$BUILD_DIR" "$BUILD_DIR/tools/bench/dm-ingest-bench" \
  --runs "${RUNS:-3}" --duration "${DURATION:-10}" --connections "${CONNECTIONS:-256}" \
  --rate "${RATE:-5000}" --devices "${DEVICES:-100}" --http-threads "${HTTP_THREADS:-1}" ${WRK:+--wrk} ${NO_HISTORY:+--no-history}
