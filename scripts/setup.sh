#!/usr/bin/env bash
# Installs what weft needs to build and test, from Debian's packages. Safe to run again: it only
# calls apt-get when something is missing. Needs root (or sudo).
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libpoco-dev libyaml-cpp-dev libvalijson-dev libssl-dev
  googletest libgtest-dev libbenchmark-dev
  clang libclang-rt-14-dev cppcheck
  python3 curl
)
if [ "${WEFT_SETUP_BENCH:-0}" = 1 ]; then packages+=(wrk nginx-light sqlite3); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
