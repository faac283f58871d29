#!/usr/bin/env bash
# lint.sh — cppcheck over project code (runtime, connectors, tests' own sources); any finding fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cppcheck --quiet --error-exitcode=1 --std=c++20 --language=c++ --inline-suppr \
  --enable=warning,performance,portability \
  --suppress=missingIncludeSystem --suppress=unknownMacro \
  -I runtime/include -I runtime/src \
  runtime/src connectors
echo "cppcheck: clean"
