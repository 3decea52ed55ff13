#!/usr/bin/env bash
# Makes sure everything the test suite uses is present, installing what is missing when it can:
# Debian packages (headless Chromium and its WebDriver for the mock's page tests, PostgreSQL's server for the
# store and multi-instance tests) with apt-get as root, Python packages (Zitadel's SDK, pytest, Authlib,
# requests for scripts/sdk-check.sh) with pip. When it cannot install something it stops and names it,
# so no test is skipped silently. SKIP_TEST_DEPS=1 skips the check (the tests that need a missing tool then
# skip and say so).
set -euo pipefail
[ "${SKIP_TEST_DEPS:-0}" = 1 ] && exit 0

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
missing_debs=()
{ [ -x /usr/bin/chromium ] || [ -x /usr/bin/chromium-browser ]; } || missing_debs+=(chromium)
{ [ -x /usr/bin/chromedriver ] || [ -x /usr/lib/chromium/chromedriver ]; } || missing_debs+=(chromium-driver)
{ command -v initdb >/dev/null || [ -x "$(pg_bin)/initdb" ]; } || missing_debs+=(postgresql)
command -v python3 >/dev/null || missing_debs+=(python3 python3-pip)

if [ ${#missing_debs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "test-deps: installing ${missing_debs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing_debs[@]}" >/dev/null
  else
    echo "test-deps: missing Debian packages: ${missing_debs[*]}" >&2
    echo "test-deps: install them (sudo apt-get install ${missing_debs[*]}) or rerun as root; SKIP_TEST_DEPS=1 runs without them" >&2
    exit 1
  fi
fi

python3 -c 'import zitadel_client, pytest, authlib, requests' 2>/dev/null || {
  echo "test-deps: installing the Python test clients (zitadel-client pytest authlib requests)"
  python3 -m pip install -q --disable-pip-version-check zitadel-client pytest authlib requests || {
    echo "test-deps: pip could not install zitadel-client pytest authlib requests" >&2; exit 1; }
}
