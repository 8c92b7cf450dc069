#!/usr/bin/env bash
# Installs what toolhost needs to build and test on Debian 12, with apt-get, then the MCP test
# tools (tests/mcp/package-lock.json) and the console's browser driver
# (tests/console/package-lock.json) with npm. Idempotent: does nothing when everything is there.
# Boost comes from Debian's 1.81 packages, never the default 1.74. Extra Debian packages a script
# needs besides these (scripts/fuzz.sh: clang) are given as arguments.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

packages=(
  build-essential cmake ninja-build pkg-config clang-format
  libboost1.81-dev libboost-json1.81-dev libboost-log1.81-dev libboost-test1.81-dev
  libboost-thread1.81-dev libboost-url1.81-dev
  libvalijson-dev json-schema-test-suite
  libsqlite3-dev sqlite3
  libpq-dev postgresql
  libjansson-dev
  python3-dev
  libmagic-dev libpoppler-cpp-dev libssl-dev openssl
  libbenchmark-dev
  prometheus
  wrk
  nginx-light
  curl
  cargo rustc
  chromium
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# npm installs the MCP conformance suite and Node.js 22 (tests/mcp) and playwright-core
# (tests/console); Debian's npm is enough for that, whatever Node.js runs it.
if ! command -v npm >/dev/null 2>&1; then
  missing+=(npm)
fi

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup-deps: installing ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # RUNLEVEL=1: a package with a service (nginx, postgresql) is installed without starting it; the
  # tests start their own, unprivileged, on 127.0.0.1.
  $SUDO env RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# tests/mcp/node_modules and tests/console/node_modules (playwright-core, which drives Debian's
# chromium above), each exactly as its package-lock.json says, when it is missing or older than the
# lock file. npm writes node_modules/.package-lock.json last, so an interrupted install is redone.
for dir in "$root/tests/mcp" "$root/tests/console"; do
  installed="$dir/node_modules/.package-lock.json"
  if [ ! -f "$installed" ] || [ "$dir/package-lock.json" -nt "$installed" ]; then
    echo "setup-deps: npm ci in $dir" >&2
    (cd "$dir" && npm ci --no-audit --no-fund)
  fi
done
