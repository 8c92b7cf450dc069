#!/bin/sh
# The core library (Toolhost::host) defines no serving or MCP symbol: serving is a component on
# top of it (docs/architecture.md). $1: the core library file.
set -eu
found=$(nm -C --defined-only "$1" | grep -E 'toolhost::(serve|mcp)::|serve_settings|listen_address' || true)
if [ -n "$found" ]; then
    echo "serving symbols in $1:"
    echo "$found"
    exit 1
fi
echo "no serving symbols in $1"
