#!/usr/bin/env bash
# The MFA lifecycle snapshot under a fixed request rate: `GET /v1/portal-mfa-lifecycle` on the release build
# with the built-in mock Zitadel, open-loop at RATE requests/s for SECONDS, once with the default provider
# lookup cache (zitadel.cacheSeconds 10) and once with no cache (every request makes its six Zitadel calls).
# Usage: scripts/bench-snapshot.sh [RATE] [SECONDS]     (loopback only; bounded by SECONDS)
set -euo pipefail
cd "$(dirname "$0")/.."
rate=${1:-200} secs=${2:-20}
swift build -c release --product zitadel-gateway
bin="$(swift build -c release --show-bin-path)/zitadel-gateway"
run() { # label, extra environment
  local label=$1 data
  shift
  data=$(mktemp -d)
  env ZITADEL_GATEWAY_ISSUERS_MOCK_URL=http://127.0.0.1:18481 ZITADEL_GATEWAY_STORE_URL="sqlite:$data/g.sqlite" "$@" \
    "$bin" serve --with-mock-idp --port 18480 --mock-port 18481 --log-level warning &
  local pid=$!
  for _ in $(seq 120); do curl -fs http://127.0.0.1:18480/readyz >/dev/null 2>&1 && break; sleep 0.5; done
  local token
  token=$(curl -fs -X POST http://127.0.0.1:18481/mock/admin/tokens -H 'Content-Type: application/json' \
    -d '{"userId":"300000000000001001","format":"jwt","amr":["pwd","otp","mfa"],"expiresIn":3600}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["accessToken"])')
  echo "== snapshot, $label"
  python3 scripts/rate-load.py http://127.0.0.1:18480/v1/portal-mfa-lifecycle "$rate" "$secs" "Authorization:Bearer $token"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$data"
}
run "provider lookups cached 10 s (default)"
run "no provider cache: six Zitadel calls per request" ZITADEL_GATEWAY_ZITADEL_CACHE_SECONDS=0
