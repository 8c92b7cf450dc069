#!/usr/bin/env bash
# Installs what toolhost needs to build and test on Debian 12, with apt-get. Idempotent: does
# nothing when everything is there. Boost comes from Debian's 1.81 packages, never the default 1.74.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-log1.81-dev libboost-test1.81-dev
  libboost-thread1.81-dev libboost-url1.81-dev
  libvalijson-dev json-schema-test-suite
  libsqlite3-dev sqlite3
  libmagic-dev libpoppler-cpp-dev libssl-dev
  libbenchmark-dev
  prometheus
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

echo "setup-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
