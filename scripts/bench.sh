#!/usr/bin/env bash
# Builds the release preset and runs the benchmarks. Figures are recorded in docs/performance.md.
# Usage: scripts/bench.sh [extra google-benchmark flags]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-deps.sh
./scripts/build.sh release
exec build/release/bench/bench_call "$@"
