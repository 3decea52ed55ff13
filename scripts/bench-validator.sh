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

out=$(mktemp)
trap 'rm -f "$out"' EXIT

# Ratios per pass (pass i of the gateway against pass i of the anchor, and against the gateway's own /healthz
# in the same pass) and their medians: the machine's noise moves whole passes, so compare within them.
summarize() {
  awk '
    /^== gateway/ { side = "gw" } /^== mod_auth_openidc/ { side = "anchor" }
    /^RESULT/ { split($3, kv, "="); n[side, $2]++; rps[side, $2, n[side, $2]] = kv[2] }
    function median(a, k,    i, j, t) {
      for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
    }
    END {
      split("distinct-RS256 distinct-ES256", cases, " ")
      for (c = 1; c <= 2; c++) {
        line = ""; k = 0
        for (i = 1; i <= n["gw", cases[c]]; i++) {
          r[++k] = rps["gw", cases[c], i] / rps["anchor", cases[c], i]; line = line sprintf(" %.2fx", r[k])
        }
        printf "SUMMARY %s vs mod_auth_openidc:%s (median %.2fx)\n", cases[c], line, median(r, k)
      }
      split("repeated-RS256 repeated-ES256", cases, " ")
      for (c = 1; c <= 2; c++) {
        line = ""; k = 0
        for (i = 1; i <= n["gw", cases[c]]; i++) {
          r[++k] = 100 * rps["gw", cases[c], i] / rps["gw", "no-auth", i]; line = line sprintf(" %.0f%%", r[k])
        }
        printf "SUMMARY %s vs the gateway'"'"'s /healthz:%s (median %.0f%%)\n", cases[c], line, median(r, k)
      }
    }' "$1"
}

run_gateway() { # $1: label, rest: extra environment
  local label=$1; shift
  env "$@" "$bin" serve --config Config/bench.yaml --log-level warning &
  local pid=$!
  trap 'kill $pid 2>/dev/null || true' RETURN
  echo "== gateway ($label), pid $pid"
  GATEWAY_URL=http://127.0.0.1:8080/v1/session GATEWAY_OPEN_URL=http://127.0.0.1:8080/healthz \
    "$bench/run.sh" "$secs" "$reps" | tee "$out"
  summarize "$out"
  ps -o rss= -p "$pid" | awk '{printf "gateway RSS after run: %.1f MiB\n", $1/1024}'
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

run_gateway "verified-token cache on"
run_gateway "cache too small to hit" ZITADEL_GATEWAY_VALIDATION_CACHE_CAPACITY=16
