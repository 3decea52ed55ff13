#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer, `-sanitize=fuzzer,address`) of the token parser and the phone parser.
# Each target is compiled with swiftc from the real sources it exercises (as one module: the GatewayCore import
# is dropped, nothing else changes), seeded from Fuzz/corpus/<target>, and run for FUZZ_SECONDS (default 30).
# A crash, a sanitizer report or a violated property fails the run; the crashing input is kept in .build/fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-30}
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

run() { # name
  local name=$1 corpus="$out/$1-corpus"
  rm -rf "$corpus" && mkdir -p "$corpus" && cp Fuzz/corpus/"${1%-fuzzer}"/* "$corpus/"
  echo "== fuzz $name for ${seconds}s"
  local status=0
  (cd "$out" && "./$name" -max_total_time="$seconds" -max_len=8192 -timeout=5 -rss_limit_mb=2048 \
    -artifact_prefix="$name-" -print_final_stats=1 "$name-corpus" >"$name-run.log" 2>&1) || status=$?
  grep -E 'stat::number_of_executed_units|stat::new_units_added' "$out/$name-run.log" || true
  if [ "$status" -ne 0 ]; then
    grep -E 'ERROR|SUMMARY|Fatal error|Test unit written' "$out/$name-run.log" | head -20 >&2 || true
    echo "fuzz: $name failed (exit $status); the input and log are kept in $out" >&2
    exit 1
  fi
}

rm -f "$out"/*-crash-* "$out"/*-leak-* "$out"/*-timeout-*
build token-fuzzer Fuzz/TokenFuzzer.swift Sources/SessionValidation/{Base64URL,CompactJWS,ClaimsParser,TokenClaims}.swift \
  Sources/GatewayCore/NumericDate.swift \
  Sources/GatewayCore/PortalRole.swift
build phone-fuzzer Fuzz/PhoneFuzzer.swift Sources/GatewayCore/AustralianMobile.swift
run token-fuzzer
run phone-fuzzer
echo "fuzz: no crash, no sanitizer report, every property held"
