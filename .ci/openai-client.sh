#!/usr/bin/env bash
# OpenAI client interop test: builds symbc, converts the bundled stories260k
# model (f32, with the test chat template added), serves it with
# `symbc serve` on a free loopback port, and runs tests/openai-client (the
# official OpenAI Node.js client under node --test) against it. Needs Go,
# Node.js >= 20 and npm (the npm registry must be reachable for npm ci).
# Exits non-zero on any failure and always stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

say() { printf '   %s\n' "$*"; }
fail() {
  printf 'openai-client: FAIL: %s\n' "$*" >&2
  if [ -s "$work/server.log" ]; then
    printf -- '--- server log ---\n' >&2
    cat "$work/server.log" >&2
  fi
  exit 1
}

command -v node >/dev/null 2>&1 || fail "node is not installed (Node.js >= 20 is needed)"
command -v npm >/dev/null 2>&1 || fail "npm is not installed"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || fail "Node.js $(node --version) is too old (need >= 20)"

say "building symbc"
go build -o "$work/symbc" ./cmd/symbc

say "converting testdata/models/stories260k (f32)"
model="$work/stories260k"
"$work/symbc" convert testdata/models/stories260k "$model" --quantize f32 --quiet

# The key reaches serve and the tests through the environment, never argv.
export SYMBC_API_KEY="sk-ci-$RANDOM$RANDOM"

# Port 0 lets the kernel pick a free port; serve prints the address it got.
say "starting symbc serve"
"$work/symbc" serve "$model" --addr 127.0.0.1:0 --threads 2 --model-name stories260k \
  --chat-template runtime/server/testdata/tool_template.jinja 2>"$work/server.log" &
server_pid=$!
base=""
for _ in $(seq 200); do
  kill -0 "$server_pid" 2>/dev/null || fail "symbc serve exited early"
  base=$(sed -n 's|.* on \(http://127\.0\.0\.1:[0-9]*/v1\) .*|\1|p' "$work/server.log" | head -n 1)
  [ -n "$base" ] && break
  sleep 0.05
done
[ -n "$base" ] || fail "symbc serve printed no address"
health="${base%/v1}/health"
healthy=""
for _ in $(seq 100); do
  if node -e "fetch(process.argv[1]).then(r => r.json()).then(j => process.exit(j.status === 'ok' ? 0 : 1), () => process.exit(1))" "$health"; then
    healthy=1
    break
  fi
  sleep 0.1
done
[ -n "$healthy" ] || fail "$health did not answer ok"
say "serving on $base"

say "npm ci"
(cd tests/openai-client && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci failed"

say "node --test"
(cd tests/openai-client && SYMBC_OPENAI_BASE_URL="$base" SYMBC_MODEL_NAME=stories260k node --test) || fail "the OpenAI client tests failed"

# A clean stop: SIGTERM is the graceful shutdown path of serve.
kill -TERM "$server_pid"
wait "$server_pid" || fail "symbc serve did not exit cleanly after SIGTERM"
server_pid=""
grep -q "server stopped" "$work/server.log" || fail "symbc serve did not report a clean stop"
grep -q "$SYMBC_API_KEY" "$work/server.log" && fail "the server log shows the API key"
say "server log: $(grep -c ' /v1/' "$work/server.log") API requests"
echo "openai-client: ok"
