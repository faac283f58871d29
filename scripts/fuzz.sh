#!/usr/bin/env bash
# fuzz.sh [SECONDS] — builds the libFuzzer targets (tests/fuzz/*_fuzz.cpp) with clang and runs each
# for SECONDS (default 20). A crash, leak or sanitizer report fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-20}
build=$root/build-fuzz
if ! ls "$root"/tests/fuzz/*_fuzz.cpp >/dev/null 2>&1; then echo "fuzz: no targets"; exit 0; fi
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DWEFT_FUZZ=ON \
  -DWEFT_BUILD_BENCH=OFF -DWEFT_SANITIZE=address,undefined -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" >/dev/null
targets=()
for src in "$root"/tests/fuzz/*_fuzz.cpp; do targets+=("$(basename "${src%.cpp}")"); done
cmake --build "$build" -j "$(nproc)" --target "${targets[@]}"
for t in "${targets[@]}"; do
  corpus=$build/corpus/$t
  mkdir -p "$corpus"
  seeds=$root/tests/fuzz/corpus/${t%_fuzz}
  echo "fuzz: $t for ${secs}s"
  "$build/bin/$t" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 "$corpus" \
    $( [ -d "$seeds" ] && echo "$seeds" ) >"$build/$t.log" 2>&1 || { tail -50 "$build/$t.log"; exit 1; }
  grep -E "^#[0-9]+.*DONE" "$build/$t.log" | tail -1 || true
done
