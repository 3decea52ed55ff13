#!/usr/bin/env bash
# End-to-end smoke test of the README's first command: `zitadel-gateway serve --with-mock-idp` on its embedded
# defaults (ports moved to 18180/18181 so a running gateway is not disturbed), a token minted at the mock's
# admin API, and `GET /v1/session` through a real socket. Bounded: every wait gives up after 60 s.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(swift build --show-bin-path)/zitadel-gateway"
log=$(mktemp)
ZITADEL_GATEWAY_ISSUERS_MOCK_URL=http://127.0.0.1:18181 "$bin" serve --with-mock-idp --port 18180 --mock-port 18181 >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 120); do
  curl -fs http://127.0.0.1:18180/readyz >/dev/null 2>&1 && break
  kill -0 $pid 2>/dev/null || { cat "$log"; echo "smoke: gateway exited" >&2; exit 1; }
  sleep 0.5
done
curl -fs http://127.0.0.1:18180/readyz >/dev/null || { cat "$log"; echo "smoke: never ready" >&2; exit 1; }
token=$(curl -fs -X POST http://127.0.0.1:18181/mock/admin/tokens -H 'Content-Type: application/json' \
  -d '{"userId":"300000000000001001","format":"jwt"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["accessToken"])')
body=$(curl -fs http://127.0.0.1:18180/v1/session -H "Authorization: Bearer $token")
echo "$body" | python3 -c 'import json,sys; b=json.load(sys.stdin); assert b["portalRole"]=="client_admin", b; assert b["subject"]=="300000000000001001", b'
# The MFA lifecycle snapshot through the mock's v2 services, with the seeded PAT (no test double).
snapshot=$(curl -fs -D "$log.headers" http://127.0.0.1:18180/v1/portal-mfa-lifecycle -H "Authorization: Bearer $token")
echo "$snapshot" | python3 -c 'import json,sys; b=json.load(sys.stdin); assert b["securityStatus"] != "unavailable", b; assert b["marker"], b'
grep -qi '^etag:' "$log.headers" || { echo "smoke: snapshot without ETag" >&2; exit 1; }
rm -f "$log.headers"
status=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:18180/v1/session -H "Authorization: Bearer ${token}x")
[ "$status" = 401 ] || { echo "smoke: tampered token answered $status" >&2; exit 1; }
# Graceful shutdown on SIGTERM.
kill -TERM $pid; for _ in $(seq 40); do kill -0 $pid 2>/dev/null || break; sleep 0.25; done
if kill -0 $pid 2>/dev/null; then echo "smoke: no graceful shutdown within 10 s" >&2; exit 1; fi
if grep -qF "$token" "$log"; then echo "smoke: the access token appeared in the log" >&2; exit 1; fi
echo "smoke: serve --with-mock-idp validated a minted token and served its MFA snapshot end to end"
