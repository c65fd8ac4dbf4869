#!/usr/bin/env bash
# Registry integration test: symbc push/pull/inspect against a real registry
# (Debian's CNCF distribution, "docker-registry") on 127.0.0.1, and oras as a
# generic OCI client. Works on a fresh Debian machine as root (installs the
# registry with apt and oras with go install); exits non-zero on any failure
# and always stops the registry.
set -euo pipefail
cd "$(dirname "$0")/.."

ORAS_VERSION=1.3.6
work=$(mktemp -d)
reg_pid=""
cleanup() {
  if [ -n "$reg_pid" ]; then
    kill "$reg_pid" 2>/dev/null || true
    wait "$reg_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

say() { printf '   %s\n' "$*"; }
fail() { printf 'registry-integration: FAIL: %s\n' "$*" >&2; exit 1; }
# json_field FILE KEY prints a number or string field of a flat JSON object
# (no jq on a fresh machine).
json_field() { sed -n "s/^ *\"$2\": *\"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" "$1" | head -n 1; }

# same_model A B: B is the folder A as published. verify.json is published
# without local paths (push rewrites its source and model paths to folder
# names), so it is compared by its verdict and figures, never byte for byte.
# local.json (the source's absolute path on this machine) is never
# published, and no published file (config.symb.json included) may carry a
# local absolute path.
same_model() {
  diff -r -x verify.json -x local.json "$1" "$2" || return 1
  [ ! -e "$2/local.json" ] || { echo "local.json travelled to $2"; return 1; }
  leaks=$(grep -rl -e "$work/" -e "$PWD/" "$2" || true)
  [ -z "$leaks" ] || { echo "published files carry a local absolute path: $leaks"; return 1; }
  [ -f "$1/verify.json" ] || return 0
  [ -f "$2/verify.json" ] || { echo "verify.json missing from $2"; return 1; }
  if grep -q "\"$work\|\"/" "$2/verify.json"; then echo "$2/verify.json carries a local absolute path"; return 1; fi
  for k in pass mean_kld top1_agreement; do
    [ "$(json_field "$1/verify.json" "$k")" = "$(json_field "$2/verify.json" "$k")" ] || { echo "verify.json $k differs"; return 1; }
  done
}

# --- tools -----------------------------------------------------------------
if ! command -v docker-registry >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || fail "docker-registry is not installed and this is not root (apt-get install docker-registry)"
  say "installing docker-registry (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq docker-registry >/dev/null
fi
gobin=$(go env GOBIN); gobin=${gobin:-$(go env GOPATH)/bin}
oras="$gobin/oras"
# oras's output is captured before it is searched: with pipefail, a reader
# that stops early (grep -q, head) kills oras with SIGPIPE and fails the line.
oras_version=$("$oras" version 2>/dev/null || true)
if ! grep -q "^Version: *$ORAS_VERSION" <<<"$oras_version"; then
  say "installing oras $ORAS_VERSION (go install)"
  GOFLAGS= go install "oras.land/oras/cmd/oras@v$ORAS_VERSION"
  oras_version=$("$oras" version)
fi
say "oras: $(grep -m 1 '^Version' <<<"$oras_version")"

# --- registry on 127.0.0.1 -------------------------------------------------
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=""
for _ in $(seq 50); do
  p=$((20000 + RANDOM % 20000))
  if port_free "$p"; then port=$p; break; fi
done
[ -n "$port" ] || fail "no free port found"
mkdir -p "$work/storage"
cat >"$work/registry.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
EOF
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 100); do
  port_free "$port" || break
  kill -0 "$reg_pid" 2>/dev/null || { cat "$work/registry.log" >&2; fail "docker-registry exited"; }
  sleep 0.1
done
port_free "$port" && fail "docker-registry did not listen on 127.0.0.1:$port"
say "docker-registry $(docker-registry --version | awk '{print $3}') on 127.0.0.1:$port"

# --- symbc and a model folder ----------------------------------------------
go build -o "$work/symbc" ./cmd/symbc
symbc="$work/symbc"
model="$work/model"
src=testdata/models/stories260k
# The source gets a LICENSE (stories260k's own terms, MIT): it must travel
# through convert, push and a generic client's pull, and name the licence on
# the manifest.
licensed="$work/source"
mkdir -p "$licensed"
cp "$src"/* "$licensed"/
printf 'MIT License\n\nCopyright (c) 2023 Andrej\n' >"$licensed/LICENSE"
if "$symbc" convert --help >/dev/null 2>&1 && [ -f "$src/config.json" ]; then
  say "model: symbc convert $src (with a LICENSE)"
  "$symbc" convert "$licensed" "$model" --quiet
  cmp "$licensed/LICENSE" "$model/LICENSE" || fail "convert did not keep the source's LICENSE"
else
  say "model: symbc convert or $src is missing; using a random-weight test model instead"
  go run ./internal/testmodel/gen -preset tiny "$model"
fi
if "$symbc" verify --help 2>/dev/null | grep -q -- '--save'; then
  say "verify.json: symbc verify --save"
  "$symbc" verify "$model" --reference "$src/reference.safetensors" --save >/dev/null
else
  say "verify.json: symbc verify --save is missing; writing a fixture report"
  printf '{"pass": true, "tool_version": "integration-fixture", "reference": "fixture", "overall": {"mean_kld": 0.001, "top1_agreement": 0.99}}\n' >"$model/verify.json"
fi

ref="127.0.0.1:$port/symbc/stories260k:int4"

# --- push, re-push -----------------------------------------------------------
say "push $ref"
"$symbc" push "$model" "$ref" --json >"$work/push1.json"
up1=$(json_field "$work/push1.json" uploaded_bytes)
digest=$(json_field "$work/push1.json" digest)
[ "${up1:-0}" -gt 0 ] || fail "first push uploaded ${up1:-nothing}: $(cat "$work/push1.json")"
[[ "$digest" =~ ^sha256:[0-9a-f]{64}$ ]] || fail "push digest '$digest'"
[ "$(json_field "$work/push1.json" ref)" = "$ref" ] || fail "push --json ref: $(cat "$work/push1.json")"

"$symbc" push "$model" "$ref" --json >"$work/push2.json"
up2=$(json_field "$work/push2.json" uploaded_bytes)
skip2=$(json_field "$work/push2.json" skipped_bytes)
[ "$up2" = 0 ] || fail "re-push uploaded $up2 bytes, want 0"
[ "$skip2" -ge "$up1" ] || fail "re-push skipped $skip2 bytes, first push uploaded $up1"
[ "$(json_field "$work/push2.json" digest)" = "$digest" ] || fail "re-push changed the digest"
say "re-push: 0 bytes uploaded, $skip2 skipped"

line=$("$symbc" push "$model" "$ref" 2>/dev/null)
[ "$line" = "$ref@$digest" ] || fail "push printed '$line', want '$ref@$digest'"

# --- pull by tag and digest, --force ------------------------------------------
say "pull by tag and by digest"
"$symbc" pull "$ref" "$work/pulled" >/dev/null
same_model "$model" "$work/pulled" || fail "pulled folder differs"
"$symbc" pull "${ref%:*}@$digest" "$work/pulled-digest" >/dev/null
same_model "$model" "$work/pulled-digest" || fail "folder pulled by digest differs"
if "$symbc" pull "$ref" "$work/pulled" >/dev/null 2>&1; then fail "pull over an existing folder succeeded without --force"; fi
"$symbc" pull "$ref" "$work/pulled" --force >/dev/null
same_model "$model" "$work/pulled" || fail "folder pulled with --force differs"

# --- inspect --------------------------------------------------------------------
say "inspect the pulled folder and the reference"
"$symbc" inspect "$work/pulled" >"$work/inspect-local.txt"
grep -q llama "$work/inspect-local.txt" || fail "inspect of the pulled folder: $(cat "$work/inspect-local.txt")"
if "$symbc" inspect "$ref" >"$work/inspect-remote.txt" 2>&1; then
  grep -q "$digest" "$work/inspect-remote.txt" || fail "inspect $ref: $(cat "$work/inspect-remote.txt")"
  grep -qi "pass" "$work/inspect-remote.txt" || fail "inspect $ref shows no verify result"
else
  say "symbc inspect does not read references yet: $(head -n 1 "$work/inspect-remote.txt")"
fi

# --- a generic OCI client ---------------------------------------------------------
say "oras pull $ref"
"$oras" manifest fetch --plain-http "$ref" >"$work/manifest.json"
grep -q '"artifactType":"application/vnd.cncf.model.manifest.v1+json"' "$work/manifest.json" || fail "manifest: $(head -c 300 "$work/manifest.json")"
"$oras" pull --plain-http "$ref" -o "$work/oras" >/dev/null
same_model "$model" "$work/oras" || fail "oras pull restored a different folder"
if [ -f "$model/LICENSE" ]; then
  cmp "$licensed/LICENSE" "$work/oras/LICENSE" || fail "the LICENSE did not survive convert, push and oras pull"
  grep -q '"org.opencontainers.image.licenses":"MIT"' "$work/manifest.json" || fail "the manifest does not name the licence: $(head -c 600 "$work/manifest.json")"
  say "LICENSE: kept by convert, sent by push, restored by oras, named on the manifest (MIT)"
fi

# --- interop the other way: a safetensors ModelPack artifact pushed by oras converts ----
if [ -f "$model/LICENSE" ]; then
  hf_ref="127.0.0.1:$port/hf/stories260k:main"
  say "oras push a ModelPack safetensors artifact, symbc convert $hf_ref"
  files=(config.json model.safetensors tokenizer.json tokenizer_config.json LICENSE)
  diff_ids=$(cd "$licensed" && sha256sum "${files[@]}" | awk '{printf "%s\"sha256:%s\"", (NR>1?",":""), $1}')
  printf '{"descriptor":{"name":"stories260k"},"config":{"format":"safetensors"},"modelfs":{"type":"layers","diffIds":[%s]}}' "$diff_ids" >"$work/mp-config.json"
  (cd "$licensed" && "$oras" push --plain-http "$hf_ref" \
    --artifact-type application/vnd.cncf.model.manifest.v1+json \
    --config "$work/mp-config.json:application/vnd.cncf.model.config.v1+json" \
    config.json:application/vnd.cncf.model.weight.config.v1.raw \
    model.safetensors:application/vnd.cncf.model.weight.v1.raw \
    tokenizer.json:application/vnd.cncf.model.weight.config.v1.raw \
    tokenizer_config.json:application/vnd.cncf.model.weight.config.v1.raw \
    LICENSE:application/vnd.cncf.model.doc.v1.raw >/dev/null)
  "$symbc" convert "$hf_ref" "$work/from-oras" --quiet || fail "symbc convert $hf_ref"
  for f in embeddings.symb layers/layer_00/attn_q.symb LICENSE; do
    cmp "$model/$f" "$work/from-oras/$f" || fail "$f converted from the oras artifact differs from the folder's"
  done

  # The same checkpoint with its weights in a tar layer and its tokenizer in a
  # tar+gzip layer (the model-spec's packed media types, as modctl packs them).
  tar_ref="127.0.0.1:$port/hf/stories260k:tar"
  say "oras push a ModelPack artifact with tar layers, symbc convert $tar_ref"
  tar -C "$licensed" -cf "$work/weights.tar" model.safetensors
  tar -C "$licensed" -cf "$work/tokenizer.tar" tokenizer.json tokenizer_config.json
  gzip -n -c "$work/tokenizer.tar" >"$work/tokenizer.tar.gz"
  tar_ids=$(sha256sum "$licensed/config.json" "$work/weights.tar" "$work/tokenizer.tar" | awk '{printf "%s\"sha256:%s\"", (NR>1?",":""), $1}')
  printf '{"descriptor":{"name":"stories260k"},"config":{"format":"safetensors"},"modelfs":{"type":"layers","diffIds":[%s]}}' "$tar_ids" >"$work/mp-tar-config.json"
  cp "$licensed/config.json" "$work/config.json"
  (cd "$work" && "$oras" push --plain-http "$tar_ref" \
    --artifact-type application/vnd.cncf.model.manifest.v1+json \
    --config "$work/mp-tar-config.json:application/vnd.cncf.model.config.v1+json" \
    config.json:application/vnd.cncf.model.weight.config.v1.raw \
    weights.tar:application/vnd.cncf.model.weight.v1.tar \
    tokenizer.tar.gz:application/vnd.cncf.model.weight.config.v1.tar+gzip >/dev/null)
  "$symbc" convert "$tar_ref" "$work/from-tar" --quiet || fail "symbc convert $tar_ref"
  for f in embeddings.symb layers/layer_00/attn_q.symb tokenizer/tokenizer.json; do
    cmp "$model/$f" "$work/from-tar/$f" || fail "$f converted from the tar-layer artifact differs from the folder's"
  done
fi

# --- the local model store ----------------------------------------------------------
say "symbc run REF, list, rm through a store in $work/store"
export SYMBC_MODELS="$work/store"
"$symbc" run "$ref" --prompt "Once upon a time" --max-tokens 8 >"$work/run-ref.txt" 2>/dev/null || fail "symbc run $ref"
"$symbc" run "$model" --prompt "Once upon a time" --max-tokens 8 >"$work/run-dir.txt" 2>/dev/null
cmp "$work/run-ref.txt" "$work/run-dir.txt" || fail "run $ref and run of the folder differ"
"$symbc" list >"$work/list.txt"
grep -q "^$ref " "$work/list.txt" || fail "symbc list: $(cat "$work/list.txt")"
"$symbc" rm "$ref" >/dev/null
if "$symbc" list | grep -q "^$ref "; then fail "symbc rm left $ref in the store"; fi
unset SYMBC_MODELS

# --- a packed (many-file) model ------------------------------------------------
say "packed model (>256 files): push, symbc pull, oras pull"
go run ./internal/testmodel/gen -preset moe "$work/moe"
moe_ref="127.0.0.1:$port/symbc/moe:test"
"$symbc" push "$work/moe" "$moe_ref" --json >"$work/push-moe.json"
[ "$(json_field "$work/push-moe.json" packed_layers)" -gt 0 ] || fail "MoE push packed nothing: $(cat "$work/push-moe.json")"
"$symbc" pull "$moe_ref" "$work/moe-pulled" >/dev/null
same_model "$work/moe" "$work/moe-pulled" || fail "pulled MoE folder differs"
"$oras" pull --plain-http "$moe_ref" -o "$work/moe-oras" >/dev/null
same_model "$work/moe" "$work/moe-oras" || fail "oras pull of the packed model restored a different folder"

echo "registry-integration: ok"
