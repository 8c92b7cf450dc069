#!/usr/bin/env bash
# Installs what is missing, builds, and runs the main job on the bundled plugins and conf/:
# validates the configuration, lists the tools, and calls each bundled tool once.
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
