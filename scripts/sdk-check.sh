#!/usr/bin/env bash
# Runs Tests/SDK (pytest: Zitadel's official Python SDK `zitadel-client`, and the relying-party library Authlib with
# requests) against `zitadel-gateway mock-idp` on a loopback port. Installs them from PyPI when missing. Bounded:
# readiness wait 30 s, pytest 120 s.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c 'import zitadel_client, pytest, authlib, requests' 2>/dev/null || pip install -q zitadel-client pytest authlib requests
bin="$(swift build --show-bin-path)/zitadel-gateway"
port=18291
"$bin" mock-idp --port "$port" --log-level warning &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 60); do curl -fs "http://127.0.0.1:$port/.well-known/openid-configuration" >/dev/null 2>&1 && break; sleep 0.5; done
MOCK_URL="http://127.0.0.1:$port" timeout 120 python3 -m pytest -q -p no:cacheprovider Tests/SDK
