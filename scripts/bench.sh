#!/usr/bin/env bash
# Builds the release preset and runs every benchmark: the C++ ones in build/release/bench/
# (host: call, worker_pool, metrics, circuit_breaker, scan; plugins: crm, escalation, memory, rag,
# storage: each stateful operation on SQLite and PostgreSQL), then the MCP benchmark against the
# TypeScript SDK server (bench/serve/run.sh) and several hosts behind nginx ("cluster":
# bench/serve/cluster.mjs). Figures are recorded
# in docs/performance.md with the command that produced them.
#
# Usage: scripts/bench.sh [--only NAME[,NAME...]] [google-benchmark flags...]
#   --only call,worker_pool    run just these (names as above; "serve" is the MCP benchmark,
#                              "cluster" the hosts behind nginx)
#   flags such as --benchmark_min_time=1 go to every C++ benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."

all=(call worker_pool metrics circuit_breaker scan crm escalation memory rag storage serve cluster)
only=()
if [ "${1:-}" = "--only" ]; then
  IFS=, read -r -a only <<<"${2:?--only needs a list of names}"
  shift 2
fi
[ "${#only[@]}" -gt 0 ] || only=("${all[@]}")

./scripts/setup-deps.sh
./scripts/build.sh release

for name in "${only[@]}"; do
  case " ${all[*]} " in *" $name "*) ;; *) echo "bench.sh: no benchmark named '$name' (${all[*]})" >&2; exit 64 ;; esac
  echo "=== $name" >&2
  if [ "$name" = serve ]; then
    bench/serve/run.sh
  elif [ "$name" = cluster ]; then
    tests/mcp/node_modules/.bin/node bench/serve/cluster.mjs
  else
    build/release/bench/bench_"$name" "$@"
  fi
done
