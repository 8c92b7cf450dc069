#!/usr/bin/env bash
# Builds the libFuzzer harnesses (preset "fuzz": clang, ASan + UBSan) and runs them.
#
#   scripts/fuzz.sh                      every harness, 10 million executions each
#   scripts/fuzz.sh schema mcp           those harnesses only
#   FUZZ_RUNS=100000 scripts/fuzz.sh     fewer executions
#   FUZZ_SECONDS=3600 scripts/fuzz.sh    for a time instead (per harness)
#
# Each harness starts from its committed corpus (tests/fuzz/corpus/<name>/) and works in a
# scratch copy; the inputs that add coverage are merged back into the committed corpus at the
# end (libFuzzer -merge=1), so commit them. A crash stops the harness and is saved under
# tests/fuzz/crashes/<name>/ (committed too: ctest replays it from then on). A summary line per
# harness (executions, seconds, corpus size, crashes) goes to stdout and to build/fuzz/summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-deps.sh clang libclang-rt-14-dev
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)"

runs="${FUZZ_RUNS:-10000000}"
all=$(cd tests/fuzz && ls fuzz_*.cpp | sed 's/^fuzz_//; s/\.cpp$//')
names=("$@")
[ "${#names[@]}" -eq 0 ] && read -r -a names <<<"$(echo $all)"

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0"
summary=build/fuzz/summary.txt
status=0
for name in "${names[@]}"; do
  bin="build/fuzz/tests/fuzz/fuzz_${name}"
  [ -x "$bin" ] || { echo "fuzz.sh: no harness '$name' (have: $(echo $all))" >&2; exit 2; }
  corpus="tests/fuzz/corpus/${name}"
  crashes="tests/fuzz/crashes/${name}"
  work="build/fuzz/work/${name}"
  mkdir -p "$corpus" "$crashes" "$work"
  limit=(-runs="$runs")
  [ -n "${FUZZ_SECONDS:-}" ] && limit=(-max_total_time="$FUZZ_SECONDS")
  log="build/fuzz/${name}.log"
  start=$(date +%s)
  set +e
  # -report_slow_units: a unit that took a minute is worth a look; shorter ones were, on a
  # shared machine, the process waiting for a core (and are not crashes).
  "$bin" "${limit[@]}" -max_len=65536 -timeout=10 -rss_limit_mb=4096 -report_slow_units=60 -print_final_stats=1 \
    -artifact_prefix="${crashes}/" "$work" "$corpus" >"$log" 2>&1
  rc=$?
  set -e
  took=$(( $(date +%s) - start ))
  "$bin" -merge=1 "$corpus" "$work" >>"$log" 2>&1 || true
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo 0)
  found=$(find "$crashes" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  line="$(date -u +%FT%TZ) ${name}: ${execs:-0} executions in ${took} s, corpus $(ls "$corpus" | wc -l) inputs, exit ${rc}, ${found} crash files"
  echo "$line" | tee -a "$summary"
  [ "$rc" -eq 0 ] || status=1
done
exit $status
