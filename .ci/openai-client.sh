#!/usr/bin/env bash
# OpenAI client interop test: builds symbc, converts the bundled stories260k
# model (f32), serves it with `symbc serve` and the test chat template on a
# free loopback port, and runs tests/openai-client (the official OpenAI
# Node.js client under node --test) against it. Needs Go, Node.js >= 20 and
# npm (the npm registry must be reachable for npm ci). Exits non-zero on any
# failure and always stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."

name=openai-client
source .ci/stories-server.sh
check_node
# The key reaches serve and the tests through the environment, never argv.
export SYMBC_API_KEY="sk-ci-$RANDOM$RANDOM"
start_server --chat-template runtime/server/testdata/tool_template.jinja

say "npm ci"
(cd tests/openai-client && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci failed"

say "node --test"
(cd tests/openai-client && SYMBC_OPENAI_BASE_URL="$base" SYMBC_MODEL_NAME=stories260k node --test) || fail "the OpenAI client tests failed"

stop_server
grep -q "$SYMBC_API_KEY" "$work/server.log" && fail "the server log shows the API key"
say "server log: $(grep -c ' /v1/' "$work/server.log") API requests"
echo "openai-client: ok"
