#!/usr/bin/env bash
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance, installed in
# tests/mcp/node_modules by scripts/setup-deps.sh) against `toolhost serve --http`, serving only
# the conformance fixture plugin (tests/fixtures/conformance.cpp) with the MCP tool-name template
# "{operation}", so that its operations carry the tool names the suite calls.
#
#   run_conformance.sh TOOLHOST_EXE CONFORMANCE_PLUGIN WORK_DIR [suite options...]
#
# Without suite options it runs the active suite and checks the result against
# conformance-baseline.yml (the expected failures): exit 0 when exactly the listed scenarios
# fail. Suite options replace that, e.g. `--suite pending` or `--scenario server-sse-polling`.
# Everything of the last run stays in WORK_DIR: config.json, server.log, conformance.log and
# results/<scenario>-<time>/checks.json. Exit 77 (ctest: skipped) when node_modules is missing.
set -euo pipefail

if [ "$#" -lt 3 ]; then
  echo "usage: $0 TOOLHOST_EXE CONFORMANCE_PLUGIN WORK_DIR [suite options...]" >&2
  exit 2
fi
toolhost=$1
plugin=$2
work=$3
shift 3

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
node="$here/node_modules/.bin/node"
suite="$here/node_modules/@modelcontextprotocol/conformance/dist/index.js"
baseline="$here/conformance-baseline.yml"

if [ ! -x "$node" ] || [ ! -f "$suite" ]; then
  echo "SKIPPED: the MCP conformance suite is not installed in $here/node_modules;" \
       "run scripts/setup-deps.sh (npm ci in tests/mcp)" >&2
  exit 77
fi
for f in "$toolhost" "$plugin"; do
  if [ ! -f "$f" ]; then
    echo "FAILED: $f does not exist (build the toolhost and fixture_conformance targets)" >&2
    exit 1
  fi
done

# A fresh work folder. Only the conformance plugin is in the plugin folder (a symbolic link), so
# that the other fixtures, some broken on purpose, are not loaded.
rm -rf "$work"
mkdir -p "$work/plugins" "$work/data" "$work/results"
ln -s "$(cd "$(dirname "$plugin")" && pwd)/$(basename "$plugin")" "$work/plugins/"
plugin_dir="$work/plugins"
port_file="$work/port"

cat > "$work/config.json" <<EOF
{
  "plugin_dirs": [],
  "data_dir": "$work/data",
  "log_level": "info",
  "tools_enabled_by_default": false,
  "tools": {"conformance": {"enabled": true}},
  "serve": {"mcp": {"tool_name": "{operation}"}}
}
EOF

server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

show_server_log() {
  echo "--- server log ($work/server.log), last 50 lines:"
  tail -n 50 "$work/server.log" || true
  echo "---"
}

"$toolhost" serve --http 127.0.0.1:0 --port-file "$port_file" --config "$work/config.json" \
  --no-default-plugins --plugin-dir "$plugin_dir" > "$work/server.log" 2>&1 &
server_pid=$!

# Wait (at most 30 s) for the bound port, written when the server is ready.
port=""
for _ in $(seq 300); do
  if [ -s "$port_file" ]; then
    port=$(tr -d '[:space:]' < "$port_file")
    [ -n "$port" ] && break
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    status=0
    wait "$server_pid" || status=$?
    server_pid=""
    echo "FAILED: toolhost serve exited with status $status before it was ready"
    show_server_log
    exit 1
  fi
  sleep 0.1
done
if ! [[ "$port" =~ ^[0-9]+$ ]]; then
  echo "FAILED: toolhost serve did not write its port to $port_file within 30 s (got '$port')"
  show_server_log
  exit 1
fi
url="http://127.0.0.1:$port/mcp"
echo "toolhost serve (pid $server_pid) listens on $url"

if [ "$#" -eq 0 ]; then
  set -- --suite active --expected-failures "$baseline"
fi

# From the work folder, so that nothing the suite writes lands in the source tree.
suite_status=0
(cd "$work" && "$node" "$suite" server --url "$url" --output-dir "$work/results" "$@") \
  > "$work/conformance.log" 2>&1 || suite_status=$?
cat "$work/conformance.log"

# The server must stop cleanly on SIGTERM (at most 15 s).
kill -TERM "$server_pid"
server_status=""
for _ in $(seq 150); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    server_status=0
    wait "$server_pid" || server_status=$?
    break
  fi
  sleep 0.1
done
server_pid_was=$server_pid
if [ -z "$server_status" ]; then
  echo "FAILED: toolhost serve (pid $server_pid_was) did not exit within 15 s of SIGTERM"
  show_server_log
  exit 1
fi
server_pid=""

if [ "$server_status" -ne 0 ]; then
  echo "FAILED: toolhost serve exited with status $server_status after SIGTERM (expected 0)"
  show_server_log
  exit 1
fi
if [ "$suite_status" -ne 0 ]; then
  echo "FAILED: the conformance suite exited with status $suite_status (details above;" \
       "checks.json files in $work/results)"
  show_server_log
  exit 1
fi
echo "PASSED: MCP conformance (results in $work/results)"
