#!/usr/bin/env bash
# test.sh — the README's test command: installs what is needed, builds, and passes every test:
#   1. the normal build's whole ctest suite;
#   2. the same suite built with AddressSanitizer + UndefinedBehaviorSanitizer;
#   3. static analysis (cppcheck) of project code, warnings as errors;
#   4. each libFuzzer target, briefly.
# WEFT_TEST_QUICK=1 runs step 1 only (for a quick local loop).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh

jobs=$(nproc)
echo "== build (RelWithDebInfo)"
bash scripts/build.sh build
echo "== tests"
(cd build && ctest --output-on-failure -j "$jobs" --timeout 300)

if [ "${WEFT_TEST_QUICK:-0}" = 1 ]; then exit 0; fi

echo "== build (address,undefined sanitizers)"
WEFT_BUILD_TYPE=Debug bash scripts/build.sh build-asan -DWEFT_SANITIZE=address,undefined -DWEFT_BUILD_BENCH=OFF \
  -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g"
echo "== tests under sanitizers"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --output-on-failure -j "$jobs" --timeout 600)

echo "== static analysis (cppcheck)"
bash scripts/lint.sh

echo "== fuzz targets"
bash scripts/fuzz.sh 20
