#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test through ctest.
# Usage: scripts/test.sh [preset]   (release by default; debug, asan and tsan also work)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-deps.sh
preset="${1:-release}"
./scripts/build.sh "$preset"
ctest --preset "$preset" -j "$(nproc)"
