#!/usr/bin/env bash
# Runs `zitadel-gateway contract` (the binary) against `zitadel-gateway mock-idp` on a loopback port: once as the
# mock's seeded service PAT (must hold: exit 0, every call OK or SKIP), once against a mock made to drift
# (a truncated GetUserByID body: must exit non-zero with a BREAK). Bounded: readiness 30 s, each run 60 s.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(swift build --show-bin-path)/zitadel-gateway"
# A free loopback port (other checkouts on this machine run the same scripts at the same time).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
base="http://127.0.0.1:$port"
work=$(mktemp -d)
"$bin" mock-idp --port "$port" --log-level warning &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 60); do curl -fs "$base/.well-known/openid-configuration" >/dev/null 2>&1 && break; sleep 0.5; done
pat=mock-pat-aidial-gateway-300000000000000301
printf '%s\n' "$pat" >"$work/pat"
curl -fs -X POST "$base/mock/admin/sessions" -H 'Content-Type: application/json' \
  -d '{"userId":"300000000000001001","factors":["password","totp"]}' >/dev/null
run() {
  timeout 60 "$bin" contract --issuer "$base" --credential "$work/pat" --user 300000000000001001 \
    --app-key Mocks/keys/gateway-api-app-key.json >"$work/out" 2>&1
}
if ! run; then cat "$work/out"; echo "contract-check: the mock broke the contract" >&2; exit 1; fi
grep -q '^OK    UserService/GetUserByID$' "$work/out" || { cat "$work/out"; echo "contract-check: no OK line" >&2; exit 1; }
if grep -qF "$pat" "$work/out"; then echo "contract-check: the credential appeared in the output" >&2; exit 1; fi
tail -1 "$work/out"
curl -fs -X POST "$base/mock/admin/faults" -H 'Content-Type: application/json' \
  -d '{"path":"/zitadel.user.v2.UserService/GetUserByID","malformed":true}' >/dev/null
if run; then cat "$work/out"; echo "contract-check: a drifted mock passed" >&2; exit 1; fi
grep -q '^BREAK UserService/GetUserByID$' "$work/out" || { cat "$work/out"; echo "contract-check: no BREAK line" >&2; exit 1; }
echo "contract-check: the binary holds the mock to the fixtures and reports a drifted answer as a break"
