#!/usr/bin/env bash
# Contract fuzzing of the gateway's own openapi.yaml with schemathesis (PyPI) against `serve --with-mock-idp`
# on loopback: every operation, generated and mutated requests, with a portal session token and an
# integration API key. Fails on any 5xx, any status, content type, header or body that the spec does not
# declare, schema-violating requests that are accepted, and undeclared methods not answered 405.
# Bounded: at most SCHEMATHESIS_MAX_EXAMPLES examples per operation and 6 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
version=4.32.5
if ! st --version 2>/dev/null | grep -q "$version"; then
  python3 -m pip install --quiet --disable-pip-version-check "schemathesis==$version"
fi
bin="$(swift build --show-bin-path)/zitadel-gateway"
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port) mock_port=$(free_port)
api_key="fuzz-key-$RANDOM$RANDOM"
key_sha=$(printf %s "$api_key" | sha256sum | cut -d' ' -f1)
ZITADEL_GATEWAY_ISSUERS_MOCK_URL=http://127.0.0.1:$mock_port ZITADEL_GATEWAY_STORE_URL="sqlite:$work/gateway.sqlite" \
  ZITADEL_GATEWAY_API_KEYS_NAMES=fuzz ZITADEL_GATEWAY_API_KEYS_FUZZ_SHA256="$key_sha" \
  ZITADEL_GATEWAY_API_KEYS_FUZZ_TENANTS=300000000000000101 \
  ZITADEL_GATEWAY_API_KEYS_FUZZ_ROUTES="GET /v1/audit-events,GET /v1/session" \
  "$bin" serve --with-mock-idp --port $port --mock-port $mock_port >"$work/gateway.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 120); do
  curl -fs http://127.0.0.1:$port/readyz >/dev/null 2>&1 && break
  kill -0 $pid 2>/dev/null || { cat "$work/gateway.log"; echo "contract-fuzz: gateway exited" >&2; exit 1; }
  sleep 0.5
done
token=$(curl -fs -X POST http://127.0.0.1:$mock_port/mock/admin/tokens -H 'Content-Type: application/json' \
  -d '{"userId":"300000000000001003","format":"jwt","expiresIn":3600}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["accessToken"])')
cat >"$work/schemathesis.toml" <<TOML
[auth.openapi.bearerAuth]
bearer = "\${FUZZ_TOKEN}"

[auth.openapi.apiKey]
api_key = "\${FUZZ_API_KEY}"
TOML
checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
checks=$checks,response_headers_conformance,negative_data_rejection,unsupported_method
FUZZ_TOKEN="$token" FUZZ_API_KEY="$api_key" timeout 360 st --config-file "$work/schemathesis.toml" run \
  http://127.0.0.1:$port/openapi.yaml --url http://127.0.0.1:$port --checks "$checks" \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-40}" --seed "${SCHEMATHESIS_SEED:-20261123}" --no-color \
  --report junit --report-dir "$work/report" | tail -25
if grep -qF "$token" "$work/gateway.log" || grep -qF "$api_key" "$work/gateway.log"; then
  echo "contract-fuzz: a credential appeared in the gateway log" >&2; exit 1
fi
echo "contract-fuzz: no 5xx, every response as openapi.yaml declares"
