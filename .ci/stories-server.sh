# Sourced by the OpenAI client scripts (.ci/openai-client.sh,
# .ci/openai-load.sh): builds symbc, converts the bundled stories260k model
# (f32) and serves it with `symbc serve` on a free loopback port. The caller
# sets $name (for messages); start_server takes extra serve flags and sets
# $server_pid and $base (the API root). Cleanup on exit stops the server and
# removes $work.
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
  printf '%s: FAIL: %s\n' "$name" "$*" >&2
  if [ -s "$work/server.log" ]; then
    printf -- '--- server log ---\n' >&2
    cat "$work/server.log" >&2
  fi
  exit 1
}

check_node() {
  command -v node >/dev/null 2>&1 || fail "node is not installed (Node.js >= 20 is needed)"
  command -v npm >/dev/null 2>&1 || fail "npm is not installed"
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$major" -ge 20 ] || fail "Node.js $(node --version) is too old (need >= 20)"
}

start_server() {
  say "building symbc"
  go build -o "$work/symbc" ./cmd/symbc
  say "converting testdata/models/stories260k (f32)"
  model="$work/stories260k"
  "$work/symbc" convert testdata/models/stories260k "$model" --quantize f32 --quiet
  # Port 0 lets the kernel pick a free port; serve prints the address it got.
  say "starting symbc serve $*"
  "$work/symbc" serve "$model" --addr 127.0.0.1:0 --threads 2 --model-name stories260k "$@" 2>"$work/server.log" &
  server_pid=$!
  base=""
  for _ in $(seq 200); do
    kill -0 "$server_pid" 2>/dev/null || fail "symbc serve exited early"
    base=$(sed -n 's|.* on \(http://127\.0\.0\.1:[0-9]*/v1\) .*|\1|p' "$work/server.log" | head -n 1)
    [ -n "$base" ] && break
    sleep 0.05
  done
  [ -n "$base" ] || fail "symbc serve printed no address"
  local health="${base%/v1}/health" healthy=""
  for _ in $(seq 100); do
    if node -e "fetch(process.argv[1]).then(r => r.json()).then(j => process.exit(j.status === 'ok' ? 0 : 1), () => process.exit(1))" "$health"; then
      healthy=1
      break
    fi
    sleep 0.1
  done
  [ -n "$healthy" ] || fail "$health did not answer ok"
  say "serving on $base"
}

# stop_server stops the server with SIGTERM, serve's graceful shutdown path.
stop_server() {
  kill -TERM "$server_pid"
  wait "$server_pid" || fail "symbc serve did not exit cleanly after SIGTERM"
  server_pid=""
  grep -q "server stopped" "$work/server.log" || fail "symbc serve did not report a clean stop"
}
