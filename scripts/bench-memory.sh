#!/usr/bin/env bash
# Resident memory with 100,000 distinct live sessions in the verified-token cache.
# Mints COUNT RS256 tokens with the shared benchmark's generator, serves its discovery and JWKS on
# 127.0.0.1:18080 (python http.server), runs the release gateway with Config/bench.yaml, sends every token once
# with wrk (loopback, bounded by -d), and prints the gateway's RSS before and after.
# Usage: scripts/bench-memory.sh [COUNT]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-100000}
bench=${BENCH_DIR:-$(cd .. && pwd)/shared/bench/validator-benchmark}
data=/tmp/gateway-memory-bench
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
python3 -c 'import joserfc' 2>/dev/null || pip install -q joserfc
# Tokens live an hour: mint afresh when fewer than COUNT are there or they are over 30 minutes old.
if [ "$(wc -l < "$data/tokens-RS256.txt" 2>/dev/null || echo 0)" -lt "$count" ] ||
  [ -n "$(find "$data/tokens-RS256.txt" -mmin +30 2>/dev/null)" ]; then
  python3 "$bench/gen.py" "$data" http://127.0.0.1:18080 gateway "$count"
fi
mkdir -p "$data/.well-known"
printf '{"issuer":"http://127.0.0.1:18080","jwks_uri":"http://127.0.0.1:18080/jwks.json"}\n' > "$data/.well-known/openid-configuration"
(cd "$data" && exec python3 -m http.server 18080 --bind 127.0.0.1 >/dev/null 2>&1) &
idp=$!
swift build -c release --product zitadel-gateway
bin="$(swift build -c release --show-bin-path)/zitadel-gateway"
"$bin" serve --config Config/bench.yaml --log-level warning &
gw=$!
trap 'kill $gw $idp 2>/dev/null || true' EXIT
for _ in $(seq 60); do curl -fs http://127.0.0.1:8080/readyz >/dev/null 2>&1 && break; sleep 0.5; done
rss() { ps -o rss= -p "$gw" | awk '{printf "%.1f", $1/1024}'; }
echo "RSS ready: $(rss) MiB"
seconds=$(( count / 4000 + 5 ))
TOKENS=$data/tokens-RS256.txt wrk -t1 -c32 -d${seconds}s -s "$bench/rotate.lua" http://127.0.0.1:8080/v1/session
cached=$(curl -fs http://127.0.0.1:8080/metrics | awk '/^gateway_token_cache_total\{result="miss"\}/ {print $2}')
echo "RESULT memory tokens=$count cache_misses=$cached rss_mib=$(rss)"
