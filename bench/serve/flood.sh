#!/usr/bin/env bash
# The hostile-client proof of docs/security.md: good MCP tools/call requests (wrk +
# tools_call.lua on sessions made beforehand) while flood.mjs sends the probe's bad requests on
# other connections, against one `toolhost serve --http` with the echo plugin. Reports the good
# calls (all must be 200 with a result), how the bad ones were answered, and the server's peak
# and final RSS.
#
#   bench/serve/flood.sh [TOOLHOST_EXE [PLUGIN_DIR]]
#
# Environment: DURATION (seconds, 30), CLIENTS (good connections, 8), FLOODERS (bad
# connections, 4), IDLE (connections held open without a request, 200), NODE (node; default
# tests/mcp/node_modules/.bin/node, else node). Prints FLOOD_RESULT {...}; exit 1 when a good
# call failed or the server died.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
toolhost=${1:-$root/build/release/bin/toolhost}
plugins=${2:-$root/build/release/lib/toolhost/plugins}
duration=${DURATION:-30}
clients=${CLIENTS:-8}
flooders=${FLOODERS:-4}
idle=${IDLE:-200}
node=${NODE:-$root/tests/mcp/node_modules/.bin/node}
[ -x "$node" ] || node=node
command -v wrk >/dev/null || { echo "flood.sh: wrk is not installed (scripts/setup-deps.sh)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/toolhost-flood.XXXXXX")
source "$here/lib.sh"
mkdir -p "$work/plugins" "$work/data"
ln -s "$(cd "$plugins" && pwd)/echo.so" "$work/plugins/echo.so"
cat > "$work/config.json" <<JSON
{"plugin_dirs": [], "data_dir": "$work/data", "log_level": "warning",
 "tools_enabled_by_default": false, "tools": {"echo": {"enabled": true}}}
JSON
"$toolhost" serve --http 127.0.0.1:0 --port-file "$work/toolhost.port" --config "$work/config.json" \
  --no-default-plugins --plugin-dir "$work/plugins" > "$work/toolhost.log" 2>&1 &
pid=$!
trap 'kill -KILL $pid 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(wait_for "$work/toolhost.port" '^[0-9]' "$pid")
url="http://127.0.0.1:$port/mcp"
rss_kb() { awk -v k="$1:" '$1==k{print $2}' "/proc/$pid/status"; }
echo "flood.sh: server $pid on port $port, RSS $(rss_kb VmRSS) kB before the load" >&2

ids=$(open_sessions "$url" "$clients")
bad_session=$(open_sessions "$url" 1)
"$node" "$here/flood.mjs" --port "$port" --seconds "$duration" --connections "$flooders" --idle "$idle" \
  --session "$bad_session" \
  > "$work/flood.out" 2> "$work/flood.err" &
flood=$!
good=$(MCP_SESSION_IDS=$ids wrk -t1 -c"$clients" -d"${duration}s" --timeout 10s --latency \
  -s "$here/tools_call.lua" "$url")
wait "$flood" || true
kill -0 "$pid" 2>/dev/null || { echo "flood.sh: the server died; its log:" >&2; cat "$work/toolhost.log" >&2; exit 1; }
close_sessions "$url" "$ids"
good_line=$(echo "$good" | sed -n 's/^MCPBENCH //p')
flood_line=$(sed -n 's/^FLOOD //p' "$work/flood.out")
echo "FLOOD_RESULT {\"good\":${good_line:-null},\"bad\":${flood_line:-null},\"peak_rss_kb\":$(rss_kb VmHWM),\"final_rss_kb\":$(rss_kb VmRSS)}"
[ -n "$good_line" ] && echo "$good_line" | grep -q '"non200":0,"bad":0,"socket_errors":0,' || {
  echo "flood.sh: good calls failed" >&2
  echo "$good" >&2
  exit 1
}
