#!/usr/bin/env bash
# The wheel and the Python helper (issue 16), run by scripts/test.sh: builds the wheel once
# (scripts/build-wheel.sh), installs it with pytest into a fresh venv, and runs python/tests
# there: the helper's unit tests, real labtrail runs whose task uses it, and the checks of the
# installed binary (the demo, --version, glibc 2.17, manylinux2014 libraries).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTEST_VERSION=8.3.4
target="$(realpath -m "${CARGO_TARGET_DIR:-target}")"

# objdump and readelf (binutils) for the glibc check; installed here when missing (as root).
if ! command -v objdump >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -q update >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -q install -y binutils >/dev/null
fi

wheel="$(bash scripts/build-wheel.sh | tail -n 1)"
venv="$target/wheel-test-venv"
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check "$wheel" "pytest==$PYTEST_VERSION"
echo "test-python.sh: testing $wheel ($(du -h "$wheel" | cut -f1))"
PATH="$venv/bin:$PATH" LABTRAIL_WHEEL="$wheel" "$venv/bin/python" -m pytest -p no:cacheprovider \
  -q python/tests "$@"
