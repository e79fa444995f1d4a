#!/usr/bin/env bash
# The whole test suite, as the README gives it and CI runs it.
# Unit and integration tests run against real SQLite files and real child processes.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --all-targets "$@"
