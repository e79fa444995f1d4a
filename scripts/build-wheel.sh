#!/usr/bin/env bash
# Builds the wheel: the labtrail binary and the Python helper (python/labtrail), tagged
# manylinux2014 (glibc 2.17+), by maturin cross-linking with zig. maturin and ziglang come from
# PyPI, pinned, into a venv of their own under the target folder (made once). Idempotent: an
# unchanged tree rebuilds nothing but the zip. Prints the wheel's path as its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
MATURIN_VERSION=1.16.0
ZIGLANG_VERSION=0.13.0   # zig 0.13 links glibc 2.17 for rustc 1.85+ (docs/python.md)

target="$(realpath -m "${CARGO_TARGET_DIR:-target}")"
tools="$target/wheel-tools"
out="$target/wheels"

if ! python3 -c 'import ensurepip, venv' 2>/dev/null && [ "$(id -u)" = 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -q update >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -q install -y python3-venv >/dev/null
fi
want="maturin==$MATURIN_VERSION ziglang==$ZIGLANG_VERSION"
if [ "$(cat "$tools/.pinned" 2>/dev/null)" != "$want" ]; then
  rm -rf "$tools"
  python3 -m venv "$tools"
  # shellcheck disable=SC2086
  "$tools/bin/pip" install -q --disable-pip-version-check $want >&2
  echo "$want" > "$tools/.pinned"
fi
# The target for glibc 2.17 is x86_64-unknown-linux-gnu's std; zig supplies the old glibc stubs.
rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-gnu ||
  rustup target add x86_64-unknown-linux-gnu >&2

rm -f "$out"/labtrail-*.whl
PATH="$tools/bin:$PATH" "$tools/bin/maturin" build --release --zig \
  --compatibility manylinux2014 --out "$out" >&2
ls "$out"/labtrail-*.whl
