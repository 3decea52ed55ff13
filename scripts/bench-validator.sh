#!/usr/bin/env bash
# Side-by-side with the incumbent: runs ../shared/bench/validator-benchmark (Apache + mod_auth_openidc) and the
# gateway (release build, Config/bench.yaml: issuer http://127.0.0.1:18080, audience gateway) on the same
# tokens in the same run, then a second gateway pass with the verified-token cache made too small to hit
# (cacheCapacity 16), which measures full verification for every request.
# Then Zitadel-shaped sessions from the built-in mock (`serve --with-mock-idp`, cache too small to hit):
# access tokens with their ID-token companion (two signatures per new pair; one pair repeated), and access
# tokens alone (no `amr` in the token, so each new token is introspected once at the mock), each against the
# anchor's distinct RS256 figure of the same run. Skip these passes with PAIRS=0; PAIRS_ONLY=1 runs only them.
# Usage: scripts/bench-validator.sh [SECONDS_PER_CASE] [REPEATS]     (loopback only; bounded by wrk -d)
# GATEWAY_BINS="label=/path/to/zitadel-gateway ..." measures several builds in the same run (default: this
# checkout's release build); each binary needs its resource bundle beside it, as `swift build` leaves it.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-8} reps=${2:-3}
bench=${BENCH_DIR:-$(cd .. && pwd)/shared/bench/validator-benchmark}
[ -x "$bench/run.sh" ] || { echo "validator benchmark not found at $bench (set BENCH_DIR)" >&2; exit 1; }

if [ -z "${GATEWAY_BINS:-}" ]; then
  swift build -c release --product zitadel-gateway
  GATEWAY_BINS="this=$(swift build -c release --show-bin-path)/zitadel-gateway"
fi

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

run_gateway() { # $1: label, $2: binary, rest: extra environment
  local label=$1 bin=$2; shift 2
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

# One wrk case: $1 case name, $2 URL, rest: environment for the Lua script. Prints its RESULT line.
wrk_case() {
  local name=$1 url=$2; shift 2
  env "$@" timeout $((secs + 20)) wrk -t1 -c32 -d"${secs}s" -s scripts/bench/pairs.lua "$url" | sed -n "s/^RESULT/RESULT $name/p"
}

# Zitadel-shaped sessions from the built-in mock, with the verified-token cache too small to hit and no
# introspection cache: every new pair is two signature checks, every new token alone one introspection.
run_mock_sessions() { # $1: label, $2: binary
  local label=$1 bin=$2 store dir
  store=$(mktemp -d) dir=$(mktemp -d)
  ZITADEL_GATEWAY_VALIDATION_CACHE_CAPACITY=16 ZITADEL_GATEWAY_VALIDATION_INTROSPECTION_CACHE_SECONDS=0 \
    ZITADEL_GATEWAY_STORE_URL="sqlite:$store/gateway.sqlite" ZITADEL_GATEWAY_LOG_ACCESS_LOG=false \
    "$bin" serve --with-mock-idp --log-level warning &
  local pid=$!
  trap 'kill $pid 2>/dev/null || true; rm -rf "$store" "$dir"' RETURN
  for _ in $(seq 100); do curl -sf http://127.0.0.1:8080/readyz >/dev/null && break; sleep 0.2; done
  echo "== gateway ($label): Zitadel-shaped sessions from the built-in mock, pid $pid"
  python3 scripts/bench/mint-pairs.py http://127.0.0.1:8081 10000 "$dir/pairs.txt"
  head -1 "$dir/pairs.txt" > "$dir/one.txt"
  local check
  check=$(head -1 "$dir/pairs.txt")
  echo "check: pair=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${check%% *}" \
    -H "X-AiDial-ID-Token: ${check#* }" http://127.0.0.1:8080/v1/session)" \
    "foreign-companion=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${check%% *}" \
    -H "X-AiDial-ID-Token: $(sed -n 2p "$dir/pairs.txt" | cut -d' ' -f2)" http://127.0.0.1:8080/v1/session)"
  for _ in $(seq "$reps"); do
    wrk_case pair-new-RS256 http://127.0.0.1:8080/v1/session PAIRS="$dir/pairs.txt"
    wrk_case pair-repeated-RS256 http://127.0.0.1:8080/v1/session PAIRS="$dir/one.txt"
    wrk_case introspected-new-RS256 http://127.0.0.1:8080/v1/session PAIRS="$dir/pairs.txt" COMPANION=off
    wrk_case no-auth http://127.0.0.1:8080/healthz PAIRS="$dir/one.txt"
  done | tee "$out"
  curl -s http://127.0.0.1:8080/metrics | grep -E '^gateway_provider_calls_total\{.*introspect' || true
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

# The anchor alone (mod_auth_openidc, same harness), for the mock passes' ratios.
summarize_mock() { # $1: anchor output, $2: gateway output
  awk '
    FNR == NR && /^RESULT distinct-RS256/ { split($3, kv, "="); anchor[++a] = kv[2]; next }
    /^RESULT/ { split($3, kv, "="); n[$2]++; rps[$2, n[$2]] = kv[2] }
    function median(v, k,    i, j, t) {
      for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
      return k % 2 ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
    }
    END {
      split("pair-new-RS256 introspected-new-RS256", cases, " ")
      for (c = 1; c <= 2; c++) {
        line = ""; k = 0
        for (i = 1; i <= n[cases[c]] && i <= a; i++) { r[++k] = rps[cases[c], i] / anchor[i]; line = line sprintf(" %.2fx", r[k]) }
        printf "SUMMARY %s vs mod_auth_openidc distinct-RS256:%s (median %.2fx)\n", cases[c], line, median(r, k)
      }
      line = ""; k = 0
      for (i = 1; i <= n["pair-repeated-RS256"]; i++) {
        r[++k] = 100 * rps["pair-repeated-RS256", i] / rps["no-auth", i]; line = line sprintf(" %.0f%%", r[k])
      }
      printf "SUMMARY pair-repeated-RS256 vs the gateway'"'"'s /healthz:%s (median %.0f%%)\n", line, median(r, k)
    }' "$1" "$2"
}

for entry in $GATEWAY_BINS; do
  label=${entry%%=*} bin=${entry#*=}
  if [ "${PAIRS_ONLY:-0}" != 1 ]; then
    run_gateway "$label, verified-token cache on" "$bin"
    run_gateway "$label, cache too small to hit" "$bin" ZITADEL_GATEWAY_VALIDATION_CACHE_CAPACITY=16
  fi
  if [ "${PAIRS:-1}" != 0 ]; then
    anchor=$(mktemp)
    echo "== mod_auth_openidc (anchor for the mock passes)"
    "$bench/run.sh" "$secs" "$reps" | tee "$anchor"
    run_mock_sessions "$label" "$bin"
    summarize_mock "$anchor" "$out"
    rm -f "$anchor"
  fi
done
