#!/usr/bin/env bash
# Runs the whole test suite: format check, build, and every test target.
# Tests start the mock Zitadel (and, for multi-instance tests, gateways) on loopback ports themselves;
# scripts/with-postgres.sh provides the PostgreSQL server the store and multi-instance tests use.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== what the tests need (Chromium, PostgreSQL, Python test clients): installed or named"
scripts/test-deps.sh
# With everything present, a test that finds a service missing fails instead of skipping.
[ "${SKIP_TEST_DEPS:-0}" = 1 ] || export ZITADEL_GATEWAY_TEST_REQUIRE_SERVICES=1

echo "== format check (swift format lint)"
swift format lint --strict --recursive --parallel Sources Tests Package.swift

echo "== build"
swift build --build-tests

echo "== smoke test of the README's run command"
scripts/smoke.sh

echo "== contract fuzzing of openapi.yaml (schemathesis)"
scripts/contract-fuzz.sh

echo "== coverage-guided fuzzing of the token and phone parsers and of signed tokens through the gateway (libFuzzer)"
scripts/fuzz.sh

echo "== zitadel-gateway contract against mock-idp"
scripts/contract-check.sh

echo "== Zitadel's official Python SDK against the mock"
scripts/sdk-check.sh

echo "== tests (with a throwaway PostgreSQL on loopback unless ZITADEL_GATEWAY_TEST_POSTGRES_URL is set)"
scripts/with-postgres.sh swift test --skip-build 2>&1 | tee .build/test-output.txt
