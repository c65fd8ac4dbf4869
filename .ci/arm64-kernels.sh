#!/usr/bin/env bash
# arm64 kernel check under emulation: builds the test binaries of
# runtime/kernels (NEON and portable paths) and runtime (logits against
# Hugging Face references) for linux/arm64 and runs them with qemu-aarch64.
# Installs qemu-user with apt when qemu-aarch64 is missing (needs root).
# Exits non-zero when a build or a test fails.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v qemu-aarch64 >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "arm64-kernels: qemu-aarch64 is missing and installing it needs root" >&2
    exit 1
  fi
  echo "arm64-kernels: installing qemu-user"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y qemu-user
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

status=0
for pkg in runtime/kernels runtime; do
  bin="$work/$(echo "$pkg" | tr / _).arm64"
  echo "== $pkg (linux/arm64 under qemu-aarch64)"
  GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go test -c -o "$bin" "./$pkg"
  # Tests read testdata relative to their package directory.
  if ! (cd "$pkg" && qemu-aarch64 "$bin" -test.count=1); then
    echo "arm64-kernels: FAIL: $pkg" >&2
    status=1
  fi
done
exit "$status"
