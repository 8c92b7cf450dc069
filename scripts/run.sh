#!/usr/bin/env bash
# Installs what is missing, builds, and runs the main job on the bundled plugins and conf/:
# validates the configuration, lists the tools, and calls each bundled tool once.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-deps.sh
./scripts/build.sh release
bin=build/release/bin/toolhost
conf=conf/toolhost.json

set -x
"$bin" --config "$conf" validate
"$bin" --config "$conf" list
"$bin" --config "$conf" call echo echo '{"hello":"world"}'
"$bin" --config "$conf" call clock now '{"timezone":"utc"}'
"$bin" --config "$conf" status
