#!/usr/bin/env bash
# Load test: 32 concurrent streaming chats × 3 rounds with the official
# OpenAI Node.js client (tests/openai-client/load.mjs) against `symbc serve
# --parallel 8` on loopback, serving the bundled stories260k model. Passes
# when every stream ends with [DONE], no request fails, later rounds reuse
# the prompt-prefix cache, and the server's peak RSS stays under
# $max_rss_mib (the KV budget is fixed by --kv-cache-size; weights, Go
# runtime and the 8 slots' activations take the rest). Needs Go, Node.js
# >= 20 and npm.
set -euo pipefail
cd "$(dirname "$0")/.."

name=openai-load
kv_cache=16MiB
max_rss_mib=${SYMBC_LOAD_MAX_RSS_MIB:-96}
source .ci/stories-server.sh
check_node
start_server --parallel 8 --kv-cache-size "$kv_cache" --chat-template runtime/server/testdata/chat_template.jinja

say "npm ci"
(cd tests/openai-client && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci failed"

say "32 chats × 3 rounds"
(cd tests/openai-client && SYMBC_OPENAI_BASE_URL="$base" SYMBC_MODEL_NAME=stories260k \
  SYMBC_LOAD_CHATS=32 SYMBC_LOAD_ROUNDS=3 node load.mjs) || fail "the load test failed"

rss_kib=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$server_pid/status")
say "server peak RSS $((rss_kib / 1024)) MiB (bound $max_rss_mib MiB, KV cache $kv_cache)"
[ "$rss_kib" -le $((max_rss_mib * 1024)) ] || fail "peak RSS $((rss_kib / 1024)) MiB exceeds $max_rss_mib MiB"
bad=$(grep ' /v1/' "$work/server.log" | grep -vc ' 200 ' || true)
[ "$bad" -eq 0 ] || fail "$bad requests were not answered 200"
stop_server
say "server log: $(grep -c ' /v1/chat/completions 200' "$work/server.log") chat requests"
echo "openai-load: ok"
