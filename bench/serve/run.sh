#!/usr/bin/env bash
# The MCP benchmark: tools/call requests per second and p50/p99 latency over Streamable HTTP with
# 1 and with 50 concurrent clients, for `toolhost serve --http` (the bundled echo plugin, MCP tool
# echo_echo) and for the official TypeScript SDK's server with the same tool
# (ts_echo_server.mjs, answering by SSE and, with enableJsonResponse, by JSON), in the 2025 era
# (sessions); then in the 2026-07-28 era (stateless requests) for the same toolhost process
# ("toolhost-2026") and the TypeScript SDK v2's own stateless handler, createMcpHandler
# (ts_v2_echo_server.mjs, "ts-sdk-v2"); all in one run with the same load generator (wrk +
# tools_call.lua); then the stdio round trip (sequential tools/call over `toolhost serve
# --stdio`, stdio_roundtrip.mjs). When nginx is installed, one more case gives the floor of the
# machine and the load generator ("floor-nginx"): one nginx worker answering every 2026-07-28
# request with the same echo result from memory (no parsing, no tool), under the same wrk script.
# No MCP server can answer faster than that; a latency figure is read against it.
#
#   bench/serve/run.sh [TOOLHOST_EXE [PLUGIN_DIR]]
#
# Builds nothing. Defaults: build/release/bin/toolhost and build/release/lib/toolhost/plugins
# (PLUGIN_DIR must hold echo.so). Environment: DURATION (wrk seconds per case, 10), RUNS (runs
# of each case, 2; the table shows the run with the most requests per second), CLIENTS
# ("1 50"), WRK_THREADS (1: on a 2-core machine the load generator keeps one core and the
# server gets the other), STDIO_CALLS (20000), NODE_MODULES (tests/mcp/node_modules: the SDK and Node.js 22),
# WORK (a scratch folder; default a new temporary one, removed at the end unless KEEP=1).
# Needs wrk (scripts/setup-deps.sh) and curl. Prints a table and one JSON line per case
# (MCPBENCH_RESULT {...}); exit 1 if any response was not a 200 with a result.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
toolhost=${1:-$root/build/release/bin/toolhost}
plugins=${2:-$root/build/release/lib/toolhost/plugins}
duration=${DURATION:-10}
runs=${RUNS:-2}
clients=${CLIENTS:-1 50}
stdio_calls=${STDIO_CALLS:-20000}
modules=${NODE_MODULES:-$root/tests/mcp/node_modules}
node="$modules/.bin/node"

for f in "$toolhost" "$plugins/echo.so" "$node" "$modules/@modelcontextprotocol/sdk/package.json"; do
  [ -e "$f" ] || { echo "run.sh: $f does not exist (build toolhost and echo; scripts/setup-deps.sh)" >&2; exit 2; }
done
command -v wrk >/dev/null || { echo "run.sh: wrk is not installed (scripts/setup-deps.sh)" >&2; exit 2; }
command -v curl >/dev/null || { echo "run.sh: curl is not installed" >&2; exit 2; }

if [ -n "${WORK:-}" ]; then
  work=$WORK
  rm -rf "$work"
  mkdir -p "$work"
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/toolhost-mcp-bench.XXXXXX")
fi
mkdir -p "$work/plugins" "$work/data"
ln -s "$(cd "$plugins" && pwd)/echo.so" "$work/plugins/echo.so"
cat > "$work/config.json" <<EOF
{
  "plugin_dirs": [],
  "data_dir": "$work/data",
  "log_level": "warning",
  "tools_enabled_by_default": false,
  "tools": {"echo": {"enabled": true}}
}
EOF
toolhost_args=(--config "$work/config.json" --no-default-plugins --plugin-dir "$work/plugins")

source "$here/lib.sh"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  if [ -z "${WORK:-}" ] && [ "${KEEP:-0}" != 1 ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

# --- the servers, all on 127.0.0.1 with a port of their choosing
"$toolhost" serve --http 127.0.0.1:0 --port-file "$work/toolhost.port" "${toolhost_args[@]}" \
  > "$work/toolhost.log" 2>&1 &
pids+=($!)
toolhost_pid=$!
"$node" "$here/ts_echo_server.mjs" --node-modules "$modules" > "$work/ts-sse.out" 2> "$work/ts-sse.log" &
pids+=($!)
ts_sse_pid=$!
"$node" "$here/ts_echo_server.mjs" --json --node-modules "$modules" > "$work/ts-json.out" 2> "$work/ts-json.log" &
pids+=($!)
ts_json_pid=$!
"$node" "$here/ts_v2_echo_server.mjs" --node-modules "$modules" > "$work/ts-v2.out" 2> "$work/ts-v2.log" &
pids+=($!)
ts_v2_pid=$!
nginx_exe=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
have_nginx=0
if [ -x "$nginx_exe" ]; then
  have_nginx=1
  nginx_port=$("$node" -e "const s = require('node:net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); })")
  mkdir -p "$work/nginx"
  answer='{"jsonrpc":"2.0","id":"0-1","result":{"content":[{"type":"text","text":"{\\"message\\":\\"hello\\",\\"n\\":42}"}],"structuredContent":{"message":"hello","n":42},"isError":false,"resultType":"complete"}}'
  cat > "$work/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
error_log $work/nginx/error.log warn;
pid $work/nginx/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    keepalive_requests 1000000000;
    location /mcp {
      default_type application/json;
      return 200 '$answer';
    }
  }
}
EOF
  "$nginx_exe" -c "$work/nginx/nginx.conf" -p "$work/nginx" > "$work/nginx.log" 2>&1 &
  pids+=($!)
  nginx_pid=$!
fi

declare -A url pid_of
url[toolhost]="http://127.0.0.1:$(wait_for "$work/toolhost.port" '^[0-9]' "$toolhost_pid")/mcp"
url[ts-sdk-sse]="http://127.0.0.1:$(wait_for "$work/ts-sse.out" '^listening' "$ts_sse_pid" | awk '{print $2}')/mcp"
url[ts-sdk-json]="http://127.0.0.1:$(wait_for "$work/ts-json.out" '^listening' "$ts_json_pid" | awk '{print $2}')/mcp"
url[toolhost-2026]=${url[toolhost]}
url[ts-sdk-v2]="http://127.0.0.1:$(wait_for "$work/ts-v2.out" '^listening' "$ts_v2_pid" | awk '{print $2}')/mcp"
pid_of[toolhost]=$toolhost_pid
pid_of[ts-sdk-sse]=$ts_sse_pid
pid_of[ts-sdk-json]=$ts_json_pid
pid_of[ts-sdk-v2]=$ts_v2_pid
# The 2026-07-28 cases send stateless requests (no sessions).
declare -A era=([toolhost]=2025-11-25 [ts-sdk-sse]=2025-11-25 [ts-sdk-json]=2025-11-25
                [toolhost-2026]=2026-07-28 [ts-sdk-v2]=2026-07-28)
servers=(toolhost ts-sdk-sse ts-sdk-json toolhost-2026 ts-sdk-v2)
processes=(toolhost ts-sdk-sse ts-sdk-json ts-sdk-v2)
if [ "$have_nginx" = 1 ]; then
  url[floor-nginx]="http://127.0.0.1:$nginx_port/mcp"
  for _ in $(seq 100); do curl -s -o /dev/null -X POST "${url[floor-nginx]}" && break; sleep 0.1; done
  era[floor-nginx]=2026-07-28
  pid_of[floor-nginx]=$nginx_pid
  servers+=(floor-nginx)
  processes+=(floor-nginx)
fi

# One wrk run: server, clients, seconds; appends a result line to $work/results.jsonl.
failed=0
load() {
  local server=$1 c=$2 secs=$3 tag=$4 threads=${WRK_THREADS:-1} ids="" out line waited
  [ "${era[$server]}" = 2026-07-28 ] || ids=$(open_sessions "${url[$server]}" "$c")
  # Not beside the previous case's server still at work (see settle in lib.sh).
  waited=$(settle "${pid_of[@]}")
  [ "$waited" = 0.5 ] || echo "  (the servers were idle after ${waited} s)" >&2
  out=$(MCP_ERA=${era[$server]} MCP_SESSION_IDS=$ids wrk -t"$threads" -c"$c" -d"${secs}s" --timeout 10s --latency \
    -s "$here/tools_call.lua" "${url[$server]}")
  [ -z "$ids" ] || close_sessions "${url[$server]}" "$ids"
  echo "$out" > "$work/wrk-$server-c$c-$tag.txt"
  line=$(echo "$out" | sed -n 's/^MCPBENCH //p')
  if [ -z "$line" ]; then
    echo "run.sh: wrk gave no result for $server c=$c:" >&2
    echo "$out" >&2
    failed=1
    return
  fi
  if ! echo "$line" | grep -q '"non200":0,"bad":0,"socket_errors":0,'; then
    echo "run.sh: FAILED responses for $server c=$c: $line" >&2
    failed=1
  fi
  [ "$tag" = warmup ] || echo "{\"server\":\"$server\",\"clients\":$c,\"run\":$tag,${line#\{}" >> "$work/results.jsonl"
}

echo "MCP benchmark: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), wrk ${duration}s per case, $runs runs" >&2
echo "  toolhost: $toolhost ($(${toolhost} --version 2>/dev/null | head -1 || true)), node $("$node" --version)" >&2
for s in "${servers[@]}"; do
  echo "warm-up: $s (${url[$s]})" >&2
  load "$s" 50 3 warmup
done
for r in $(seq "$runs"); do
  for c in $clients; do
    for s in "${servers[@]}"; do
      echo "run $r: $s, $c clients" >&2
      load "$s" "$c" "$duration" "$r"
    done
  done
done

# --- stdio round trip
for r in $(seq "$runs"); do
  echo "run $r: toolhost stdio, sequential" >&2
  out=$("$node" "$here/stdio_roundtrip.mjs" --calls "$stdio_calls" -- "$toolhost" serve --stdio "${toolhost_args[@]}" \
    2> "$work/stdio-$r.log") || { echo "run.sh: stdio round trip failed:" >&2; echo "$out" >&2; cat "$work/stdio-$r.log" >&2; failed=1; continue; }
  line=$(echo "$out" | sed -n 's/^MCPBENCH //p')
  echo "{\"server\":\"toolhost-stdio\",\"clients\":1,\"run\":$r,${line#\{}" >> "$work/stdio.jsonl"
done

# --- stop the servers (toolhost must exit with 0 on SIGTERM)
for s in "${processes[@]}"; do kill -TERM "${pid_of[$s]}"; done
for s in "${processes[@]}"; do
  st=0
  wait "${pid_of[$s]}" || st=$?
  if [ "$st" -ne 0 ]; then echo "run.sh: $s exited with status $st after SIGTERM" >&2; failed=1; fi
done
pids=()

# --- the table: the best run (most requests per second) of each case
"$node" - "$work/results.jsonl" "$work/stdio.jsonl" <<'EOF'
const fs = require('node:fs');
const read = (f) => fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).map(JSON.parse) : [];
const http = read(process.argv[2]);
const stdio = read(process.argv[3]);
const best = new Map();
for (const r of http) {
  const k = `${r.server}\t${r.clients}`;
  if (!best.has(k) || r.rps > best.get(k).rps) best.set(k, r);
}
const ms = (us) => (us / 1000).toFixed(3);
const pad = (s, n) => String(s).padEnd(n);
const lpad = (s, n) => String(s).padStart(n);
console.log(`${pad('server', 16)}${lpad('clients', 8)}${lpad('req/s', 11)}${lpad('p50 ms', 10)}${lpad('p99 ms', 10)}   runs (req/s)`);
const order = ['toolhost', 'ts-sdk-json', 'ts-sdk-sse', 'toolhost-2026', 'ts-sdk-v2', 'floor-nginx'];
const keys = [...best.keys()].sort((a, b) => {
  const [sa, ca] = a.split('\t'); const [sb, cb] = b.split('\t');
  return Number(ca) - Number(cb) || order.indexOf(sa) - order.indexOf(sb);
});
for (const k of keys) {
  const r = best.get(k);
  const all = http.filter((x) => x.server === r.server && x.clients === r.clients).map((x) => x.rps.toFixed(0));
  console.log(`${pad(r.server, 16)}${lpad(r.clients, 8)}${lpad(r.rps.toFixed(0), 11)}${lpad(ms(r.p50_us), 10)}${lpad(ms(r.p99_us), 10)}   ${all.join(', ')}`);
}
if (stdio.length) {
  const r = stdio.reduce((a, b) => (b.calls_per_s > a.calls_per_s ? b : a));
  console.log(`${pad('toolhost-stdio', 16)}${lpad('1 seq', 8)}${lpad(r.calls_per_s.toFixed(0), 11)}${lpad(ms(r.p50_us), 10)}${lpad(ms(r.p99_us), 10)}   ${stdio.map((x) => x.calls_per_s.toFixed(0)).join(', ')}`);
}
for (const r of [...http, ...stdio]) console.log(`MCPBENCH_RESULT ${JSON.stringify(r)}`);
EOF
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
if [ "$failed" -ne 0 ]; then
  echo "run.sh: FAILED (see above)" >&2
  exit 1
fi
