#!/bin/sh
# Loads the Rust example plugin `text` with the real toolhost CLI and calls each operation.
#
#   cli_test.sh TOOLHOST PLUGIN_DIR WORK_DIR MODE
#
# PLUGIN_DIR is the folder the plugin was built into, the only one loaded; MODE is "in_process"
# or "process" (the tool runs in a toolhost-worker process). Every answer is
# compared with the exact JSON expected; the first difference fails the test.
set -u
toolhost=$1
plugin_dir=$2
work=$3
mode=$4

fail() {
    printf 'FAIL: %s\n' "$*" >&2
    exit 1
}

[ -f "$plugin_dir/text.so" ] || fail "$plugin_dir/text.so was not built"
rm -rf "$work" && mkdir -p "$work" && chmod 700 "$work" || fail "cannot create $work"
conf="$work/toolhost.json"
# Only text starts, whatever else the folder holds.
printf '{"data_dir": "%s/var", "isolation": "%s", "log_level": "warning",
  "tools_enabled_by_default": false, "tools": {"text": {"enabled": true}}}\n' "$work" "$mode" >"$conf"
chmod 600 "$conf"

# run EXPECTED_EXIT EXPECTED_STDOUT ARGS...: toolhost --config CONF ARGS... --json
run() {
    want_rc=$1
    want_out=$2
    shift 2
    out=$("$toolhost" --config "$conf" --no-default-plugins --plugin-dir "$plugin_dir" "$@" --json 2>"$work/stderr")
    rc=$?
    if [ "$rc" -ne "$want_rc" ] || [ "$out" != "$want_out" ]; then
        printf '%s\n' "toolhost $*" "  exit $rc, expected $want_rc" "  got:      $out" "  expected: $want_out" >&2
        sed 's/^/  stderr: /' "$work/stderr" >&2
        fail "unexpected answer"
    fi
    printf 'ok: %s\n' "$*"
}

# The tool runs where the configuration says.
status=$("$toolhost" --config "$conf" --no-default-plugins --plugin-dir "$plugin_dir" status --json 2>"$work/stderr") ||
    fail "toolhost status failed: $status $(cat "$work/stderr")"
case "$mode" in
process) expect='"name":"text","version":"1.0.0"*"isolation":"process","worker":{"pid":' ;;
*) expect='"name":"text","version":"1.0.0"*"isolation":"in_process"' ;;
esac
case "$status" in
*$expect*) echo "ok: status shows text with isolation $mode" ;;
*) fail "status does not show text with isolation $mode: $status" ;;
esac

run 0 '{"ok":true,"result":{"bytes":32,"characters":30,"words":7,"lines":3,"blank_lines":1,"longest_line":16,"top_words":[{"word":"the","count":2},{"word":"cat","count":1}]}}' \
    call text stats '{"text":"The cat saw  the\n\nend, déjà vu","top":2}'
run 0 '{"ok":true,"result":{"slug":"creme-brulee-2nd-try"}}' \
    call text slugify '{"text":"Crème Brûlée, 2nd try!"}'
run 0 '{"ok":true,"result":{"slug":"uber_grosse"}}' \
    call text slugify '{"text":"  Über Größe ","separator":"_","max_length":20}'
run 0 '{"ok":true,"result":{"type":"object","value":{"b":[true,null]}}}' \
    call text json_pointer '{"document":"{\"a\":[1,{\"b\":[true,null]}]}","pointer":"/a/1"}'

# Errors name the field: the host's schema check, and the tool's own.
run 65 '{"ok":false,"error":{"code":"NOT_FOUND","message":"pointer: '"'"'/a'"'"' has 2 elements; index 2 is out of range"}}' \
    call text json_pointer '{"document":"{\"a\":[1,2]}","pointer":"/a/2"}'
run 65 '{"ok":false,"error":{"code":"INVALID_ARGUMENT","message":"document: not valid JSON: expected '"','"' or '"'}'"' at offset 6"}}' \
    call text json_pointer '{"document":"{\"a\":1","pointer":""}'
run 65 '{"ok":false,"error":{"code":"INVALID_ARGUMENT","message":"pointer: invalid escape '"'"'~2'"'"' in token 1 (only ~0 and ~1 are allowed)"}}' \
    call text json_pointer '{"document":"{}","pointer":"/~2"}'
run 65 '{"ok":false,"error":{"code":"INVALID_ARGUMENT","message":"text: has no letters or digits to make a slug of"}}' \
    call text slugify '{"text":"!!!"}'
out=$("$toolhost" --config "$conf" --no-default-plugins --plugin-dir "$plugin_dir" call text slugify '{"text":"x","separator":"+"}' --json 2>/dev/null)
case "$out" in
*'"code":"INVALID_ARGUMENT"'*separator*) echo "ok: the host refuses arguments outside the schema" ;;
*) fail "a separator outside the schema was not refused: $out" ;;
esac

# What the host sees of the file: it loads, and exports exactly one symbol.
inspect=$("$toolhost" --config "$conf" inspect "$plugin_dir/text.so" --json 2>"$work/stderr") ||
    fail "toolhost inspect refused the plugin: $inspect $(cat "$work/stderr")"
case "$inspect" in
*'"loads":true'*'"plugin":{"name":"text","version":"1.0.0","abi":"1.1"}'*'"exported":["toolhost_plugin_entry_v1"]'*)
    echo "ok: inspect" ;;
*) fail "unexpected inspect answer: $inspect" ;;
esac
echo "PASS ($mode)"
