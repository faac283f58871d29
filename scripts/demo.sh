#!/usr/bin/env bash
# demo.sh — the README's first command: installs what is needed (Debian packages), builds, and runs
# the example workflows end to end, offline, against the local provider sandbox
# (scripts/sandbox-demo.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
echo "== build"
bash scripts/build.sh build
bash scripts/sandbox-demo.sh "$root/build"
