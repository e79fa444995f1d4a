#!/usr/bin/env bash
# What opening the store costs on a 10^6-task store (read-only and read-write), next to the
# integrity check every open ran before labtrail 0.5. About a minute, most of it building the store.
#
#   bash bench/store_open_cost.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release --test store_open_cost -- --ignored --nocapture 2>&1 | grep -v '^$' | grep -v '^running\|^test result'
