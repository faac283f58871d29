#!/usr/bin/env bash
# build.sh [BUILD_DIR] [extra cmake args...] — configures and builds weft with every core
# (WEFT_BUILD_TARGETS="a b" builds only those targets).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
shift || true
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=${WEFT_BUILD_TYPE:-RelWithDebInfo} "$@" >/dev/null
# WEFT_BUILD_TARGETS (space-separated) builds only those targets and what they need.
targets=()
for t in ${WEFT_BUILD_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$build" -j "$(nproc)" "${targets[@]}"
