#!/usr/bin/env bash
# test.sh — the README's test command: installs what is needed, builds, and passes every test:
#   1. the normal build's whole ctest suite;
#   2. the same suite built with AddressSanitizer + UndefinedBehaviorSanitizer;
#   3. the concurrency tests (tests/tsan_tests.txt) built with ThreadSanitizer;
#   4. static analysis (cppcheck) of project code, warnings as errors;
#   5. each libFuzzer target, briefly.
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

echo "== concurrency tests under ThreadSanitizer"
# The tests that run many threads (single-flight refresh, shared cooldowns, pooled client, run store,
# executor, registry, metrics): built with -fsanitize=thread, only the test binaries that hold them.
WEFT_BUILD_TYPE=Debug WEFT_BUILD_TARGETS="auth_test http_test engine_test plugin_test store_test workflow_test daemon_test vault_test" \
  bash scripts/build.sh build-tsan -DWEFT_SANITIZE=thread -DWEFT_BUILD_BENCH=OFF -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g"
(cd build-tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$root/tests/tsan.supp" \
  ctest --output-on-failure -j "$jobs" --timeout 600 -R "$(cat "$root/tests/tsan_tests.txt" | paste -sd '|')")

echo "== static analysis (cppcheck)"
bash scripts/lint.sh

echo "== fuzz targets"
bash scripts/fuzz.sh 20
