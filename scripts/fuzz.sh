#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer, `-sanitize=fuzzer,address`) of the token parser, the phone parser and
# signed tokens through the whole gateway.
# - token-fuzzer and phone-fuzzer are compiled with swiftc from the real sources they exercise (as one module:
#   the GatewayCore import is dropped, nothing else changes).
# - session-fuzzer (Fuzz/SessionFuzzer, its own SwiftPM package so that `swift build`/`swift test` never pay for
#   it) signs arbitrary headers and claims with a key the gateway trusts and drives them through the validator
#   and the routes that render claims, on the real application with an in-process mock Zitadel. Built with
#   SwiftPM into .build-fuzz (debug, every module with libFuzzer's coverage instrumentation; about six minutes
#   cold on two cores).
# Each target is seeded from Fuzz/corpus/<target> and runs for FUZZ_SECONDS (default 30; SESSION_FUZZ_SECONDS,
# default 60, for the session fuzzer). A crash, a sanitizer report or a violated property fails the run; the
# crashing input is kept in .build/fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-30}
session_seconds=${SESSION_FUZZ_SECONDS:-60}
out=.build/fuzz
mkdir -p "$out"

build() { # name, fuzzer source, sources...
  local name=$1 entry=$2
  shift 2
  local src="$out/$name-src"
  rm -rf "$src" && mkdir -p "$src"
  for file in "$@"; do sed '/^import GatewayCore$/d' "$file" >"$src/$(basename "$file")"; done
  cp "$entry" "$src/"
  swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name "$(echo "$name" | tr -d -)" "$src"/*.swift \
    -o "$out/$name" >"$out/$name-build.log" 2>&1 || { cat "$out/$name-build.log"; exit 1; }
}

build_session() {
  local started=$SECONDS
  # Debug, libFuzzer's coverage instrumentation only: a release build of every dependency with sanitizers took
  # over an hour on this 2-core machine, a debug one takes about six minutes. What this fuzzer looks for
  # (traps, 500s, non-problem refusals, dates out of range) needs no optimiser; memory errors are the token
  # fuzzer's job, under AddressSanitizer.
  swift build -c debug --package-path Fuzz/SessionFuzzer --scratch-path .build-fuzz --sanitize fuzzer \
    --product SessionFuzzer >"$out/session-fuzzer-build.log" 2>&1 \
    || { tail -60 "$out/session-fuzzer-build.log"; exit 1; }
  cp .build-fuzz/debug/SessionFuzzer "$out/session-fuzzer"
  echo "== session-fuzzer built in $((SECONDS - started)) s"
}

run() { # name, seconds, extra libFuzzer flags...
  local name=$1 duration=$2 corpus="$out/$1-corpus"
  shift 2
  rm -rf "$corpus" && mkdir -p "$corpus" && cp Fuzz/corpus/"${name%-fuzzer}"/* "$corpus/"
  echo "== fuzz $name for ${duration}s"
  local status=0
  (cd "$out" && "./$name" -max_total_time="$duration" -max_len=8192 -timeout=10 -rss_limit_mb=3072 \
    -artifact_prefix="$name-" -print_final_stats=1 "$@" "$name-corpus" >"$name-run.log" 2>&1) || status=$?
  grep -E 'stat::number_of_executed_units|stat::new_units_added' "$out/$name-run.log" || true
  grep -E '^#[0-9]+.*cov: ' "$out/$name-run.log" | tail -1 || true
  if [ "$status" -ne 0 ]; then
    grep -E 'ERROR|SUMMARY|Fatal error|property violated|Test unit written' "$out/$name-run.log" | head -20 >&2 || true
    echo "fuzz: $name failed (exit $status); the input and log are kept in $out" >&2
    exit 1
  fi
}

rm -f "$out"/*-crash-* "$out"/*-leak-* "$out"/*-timeout-*
build token-fuzzer Fuzz/TokenFuzzer.swift Sources/SessionValidation/{Base64URL,CompactJWS,ClaimsParser,TokenClaims}.swift \
  Sources/GatewayCore/NumericDate.swift \
  Sources/GatewayCore/PortalRole.swift
build phone-fuzzer Fuzz/PhoneFuzzer.swift Sources/GatewayCore/AustralianMobile.swift
run token-fuzzer "$seconds"
run phone-fuzzer "$seconds"
build_session
# The application keeps caches and background tasks across inputs: per-input leak checks would only see those.
run session-fuzzer "$session_seconds" -detect_leaks=0
echo "fuzz: no crash, no sanitizer report, every property held"
