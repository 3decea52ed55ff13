#!/usr/bin/env bash
# Side-by-side with the incumbent: runs ../shared/bench/validator-benchmark (Apache + mod_auth_openidc) and the
# gateway (release build, Config/bench.yaml: issuer http://127.0.0.1:18080, audience gateway) on the same
# tokens in the same run, then a second gateway pass with the verified-token cache made too small to hit
# (cacheCapacity 16), which measures full verification for every request.
# Usage: scripts/bench-validator.sh [SECONDS_PER_CASE] [REPEATS]     (loopback only; bounded by wrk -d)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-8} reps=${2:-3}
bench=${BENCH_DIR:-$(cd .. && pwd)/shared/bench/validator-benchmark}
[ -x "$bench/run.sh" ] || { echo "validator benchmark not found at $bench (set BENCH_DIR)" >&2; exit 1; }

swift build -c release --product zitadel-gateway
bin="$(swift build -c release --show-bin-path)/zitadel-gateway"

run_gateway() { # $1: label, rest: extra environment
  local label=$1; shift
  env "$@" "$bin" serve --config Config/bench.yaml --log-level warning &
  local pid=$!
  trap 'kill $pid 2>/dev/null || true' RETURN
  echo "== gateway ($label), pid $pid"
  GATEWAY_URL=http://127.0.0.1:8080/v1/session GATEWAY_OPEN_URL=http://127.0.0.1:8080/healthz \
    "$bench/run.sh" "$secs" "$reps"
  ps -o rss= -p "$pid" | awk '{printf "gateway RSS after run: %.1f MiB\n", $1/1024}'
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

run_gateway "verified-token cache on"
run_gateway "cache too small to hit" ZITADEL_GATEWAY_VALIDATION_CACHE_CAPACITY=16
