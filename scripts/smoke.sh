#!/usr/bin/env bash
# End-to-end smoke test of the README's first command: `zitadel-gateway serve --with-mock-idp` on its embedded
# defaults (on free ports so a running gateway is not disturbed), a token minted at the mock's
# admin API, and `GET /v1/session` through a real socket. Bounded: every wait gives up after 60 s.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(swift build --show-bin-path)/zitadel-gateway"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port) mock_port=$(free_port)
log=$(mktemp)
data=$(mktemp -d)
ZITADEL_GATEWAY_ISSUERS_MOCK_URL=http://127.0.0.1:$mock_port ZITADEL_GATEWAY_STORE_URL="sqlite:$data/gateway.sqlite" \
  "$bin" serve --with-mock-idp --port $port --mock-port $mock_port >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$log" "$data"' EXIT
for _ in $(seq 120); do
  curl -fs http://127.0.0.1:$port/readyz >/dev/null 2>&1 && break
  kill -0 $pid 2>/dev/null || { cat "$log"; echo "smoke: gateway exited" >&2; exit 1; }
  sleep 0.5
done
curl -fs http://127.0.0.1:$port/readyz >/dev/null || { cat "$log"; echo "smoke: never ready" >&2; exit 1; }
token=$(curl -fs -X POST http://127.0.0.1:$mock_port/mock/admin/tokens -H 'Content-Type: application/json' \
  -d '{"userId":"300000000000001001","format":"jwt"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["accessToken"])')
body=$(curl -fs http://127.0.0.1:$port/v1/session -H "Authorization: Bearer $token")
echo "$body" | python3 -c 'import json,sys; b=json.load(sys.stdin); assert b["portalRole"]=="client_admin", b; assert b["subject"]=="300000000000001001", b'
# The MFA lifecycle snapshot through the mock's v2 services, with the seeded PAT (no test double).
snapshot=$(curl -fs -D "$log.headers" http://127.0.0.1:$port/v1/portal-mfa-lifecycle -H "Authorization: Bearer $token")
echo "$snapshot" | python3 -c 'import json,sys; b=json.load(sys.stdin); assert b["securityStatus"] != "unavailable", b; assert b["marker"], b'
grep -qi '^etag:' "$log.headers" || { echo "smoke: snapshot without ETag" >&2; exit 1; }
rm -f "$log.headers"
# SMS enrolment through the mock's User service: Sam enrols, the mock's outbox has the code, it verifies.
sam=$(curl -fs -X POST http://127.0.0.1:$mock_port/mock/admin/tokens -H 'Content-Type: application/json' \
  -d '{"userId":"300000000000001003","format":"jwt"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["accessToken"])')
enrolment=$(curl -fs -X POST http://127.0.0.1:$port/v1/portal-mfa-lifecycle/sms-enrolments -H "Authorization: Bearer $sam" \
  -H "Idempotency-Key: smoke-$$-$RANDOM" -H 'Content-Type: application/json' -d '{"phone":"0491 570 006"}')
id=$(echo "$enrolment" | python3 -c 'import json,sys; b=json.load(sys.stdin); assert b["status"]=="code_sent" and b["phone"]=="+61 4•• ••• 006", b; print(b["id"])')
code=$(curl -fs "http://127.0.0.1:$mock_port/mock/admin/sms-outbox" | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["code"])')
curl -fs -X POST "http://127.0.0.1:$port/v1/portal-mfa-lifecycle/sms-enrolments/$id/verification" -H "Authorization: Bearer $sam" \
  -H 'Content-Type: application/json' -d "{\"code\":\"$code\"}" | python3 -c 'import json,sys; b=json.load(sys.stdin); assert b["status"]=="verified", b'
status=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$port/v1/session -H "Authorization: Bearer ${token}x")
[ "$status" = 401 ] || { echo "smoke: tampered token answered $status" >&2; exit 1; }
# Graceful shutdown on SIGTERM.
kill -TERM $pid; for _ in $(seq 40); do kill -0 $pid 2>/dev/null || break; sleep 0.25; done
if kill -0 $pid 2>/dev/null; then echo "smoke: no graceful shutdown within 10 s" >&2; exit 1; fi
if grep -qF "$token" "$log"; then echo "smoke: the access token appeared in the log" >&2; exit 1; fi
if grep -qE "570006|570 006|$code" "$log"; then echo "smoke: the phone number or code appeared in the log" >&2; exit 1; fi
echo "smoke: serve --with-mock-idp validated a minted token, served its MFA snapshot and enrolled an SMS number end to end"
