# Shell functions shared by the serving benchmarks (run.sh, flood.sh). Needs $work set.

# Waits (at most 30 s) for a non-empty line matching $2 in file $1; prints it.
wait_for() {
  local file=$1 pattern=$2 pid=$3
  for _ in $(seq 300); do
    if [ -s "$file" ] && grep -q "$pattern" "$file"; then grep -m1 "$pattern" "$file"; return 0; fi
    kill -0 "$pid" 2>/dev/null || { echo "bench: server $pid died; its log:" >&2; cat "$work"/*.log >&2; return 1; }
    sleep 0.1
  done
  echo "bench: no '$pattern' in $file within 30 s" >&2
  return 1
}

mcp_headers=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')

# Creates $2 sessions on $1 (initialize + notifications/initialized); prints their ids, comma-separated.
open_sessions() {
  local u=$1 n=$2 ids="" sid
  for _ in $(seq "$n"); do
    sid=$(curl -sS -D - -o /dev/null "${mcp_headers[@]}" -X POST "$u" \
      -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"mcp-bench","version":"1.0.0"}}}' \
      | tr -d '\r' | awk 'tolower($1)=="mcp-session-id:"{print $2}')
    [ -n "$sid" ] || { echo "bench: initialize at $u gave no Mcp-Session-Id" >&2; return 1; }
    curl -sS -o /dev/null "${mcp_headers[@]}" -H "Mcp-Session-Id: $sid" -H 'MCP-Protocol-Version: 2025-11-25' \
      -X POST "$u" -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
    ids="$ids${ids:+,}$sid"
  done
  echo "$ids"
}
close_sessions() {
  local u=$1 sid
  IFS=, read -r -a list <<< "$2"
  for sid in "${list[@]}"; do
    curl -sS -o /dev/null -X DELETE -H "Mcp-Session-Id: $sid" -H 'MCP-Protocol-Version: 2025-11-25' "$u" || true
  done
}

