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


# The CPU time (clock ticks, user + system) the processes $@ have used so far.
cpu_ticks() {
  local sum=0 p rest
  for p in "$@"; do
    rest=$(cut -d')' -f2- "/proc/$p/stat" 2>/dev/null) || continue
    sum=$((sum + $(echo "$rest" | awk '{print $12 + $13}')))
  done
  echo "$sum"
}

# Waits until the processes $@ (the servers of a run) are idle: together at most 2% of one CPU
# over 0.5 s, for at most 20 s. A Node.js server goes on working through its backlog and its
# garbage after wrk stops (seconds, after 50 clients); without this the next case would be
# measured beside it. Prints the seconds waited.
settle() {
  local quiet halves=0 prev now
  quiet=$(( $(getconf CLK_TCK) / 100 ))
  [ "$quiet" -ge 1 ] || quiet=1
  prev=$(cpu_ticks "$@")
  while [ "$halves" -lt 40 ]; do
    sleep 0.5
    halves=$((halves + 1))
    now=$(cpu_ticks "$@")
    [ $((now - prev)) -gt "$quiet" ] || break
    prev=$now
  done
  echo "$((halves / 2)).$((halves % 2 * 5))"
}
