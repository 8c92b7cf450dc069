#!/usr/bin/env bash
# Installs what is missing, builds, and runs the main job on the bundled plugins and conf/:
# validates the configuration, lists the tools, calls each bundled tool once, then serves them
# (`toolhost serve --http` on a free loopback port) and uses the server the way an MCP client and
# a REST client would, and stops it with SIGTERM.
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

# A customer-support turn with the five bundled tools and their sample data (in ./var, or
# TOOLHOST_DATA_DIR): who is writing, what we remember, what the knowledge base says, whether a
# human should take over, and the file they sent.
"$bin" --config "$conf" call crm get_customer '{"email":"ada@analytical.example"}'
"$bin" --config "$conf" call memory recall '{"session_id":"demo","query":"vegetarian restaurant","limit":2}'
"$bin" --config "$conf" call rag search '{"query":"bottle not syncing","top_k":2}'
"$bin" --config "$conf" call escalation evaluate \
  '{"message":"This is the third time it fails. I want to talk to a person!","context":{"failed_attempts":2,"customer_tier":"premium"}}'
"$bin" --config "$conf" call attachment process \
  '{"path":"build/release/lib/toolhost/plugins/attachment/sample/receipt.pdf","return_text":false}'
"$bin" --config "$conf" status

# Serving: MCP Streamable HTTP at /mcp and REST at /v1 (docs/serving.md).
set +x
work=$(mktemp -d)
"$bin" --config "$conf" serve --http 127.0.0.1:0 --port-file "$work/port" 2>"$work/serve.log" &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 300); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { cat "$work/serve.log" >&2; exit 1; }
url="http://127.0.0.1:$(cat "$work/port")"
set -x
curl -sf "$url/readyz"; echo
curl -sf -X POST "$url/v1/tools/crm/get_customer" -H 'X-Request-Id: run-sh-1' -d '{"email":"ada@analytical.example"}'; echo
session=$(curl -sf -D - -o "$work/init.json" "$url/mcp" -H 'Content-Type: application/json' \
  -H 'Accept: application/json, text/event-stream' \
  -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"run.sh","version":"1"}}}' |
  tr -d '\r' | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: //p')
mcp() { curl -sf "$url/mcp" -H "Mcp-Session-Id: $session" -H 'MCP-Protocol-Version: 2025-11-25' \
  -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -d "$1"; echo; }
mcp '{"jsonrpc":"2.0","method":"notifications/initialized"}'
mcp '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' | cut -c1-300
mcp '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"rag_search","arguments":{"query":"bottle not syncing","top_k":1}}}' | cut -c1-400
curl -sf "$url/metrics" | grep -c '^toolhost_' | sed 's/^/metric samples: /'
kill -TERM "$server"
wait "$server"
set +x
echo "run.sh: toolhost serve stopped cleanly"
