#!/usr/bin/env bash
# Each `labtrail snapshots` query's time over a year of 5-minute snapshots (10^5 files, indexed
# as they are generated), with the index current (what a query normally finds), and the cost of
# `snapshots reindex` from the files. Target: each query <= 200 ms.
#
#   bash bench/snapshot_queries.sh [COUNT]      # COUNT defaults to 100000 (~600 MB of JSON)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-100000}
export CARGO_PROFILE_RELEASE_DEBUG=0
cargo build --release --quiet --bin labtrail --example snapshot_history
target=${CARGO_TARGET_DIR:-target}/release
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dir=$work/experiment_snapshots
start=$(date +%s.%N)
"$target/examples/snapshot_history" "$dir" "$count"
echo "generated $count snapshots (files + index) in $(echo "$(date +%s.%N) - $start" | bc) s; $(du -sh "$dir" | cut -f1) on disk, index $(du -h "$dir/.snapshot-index.db" | cut -f1)"
export TZ=UTC
lt() { "$target/labtrail" snapshots --dir "$dir" "$@"; }
# The first query compares the whole folder listing with the index's (the folder has just
# changed); later ones see the folder unchanged and skip that.
start=$(date +%s.%N)
lt --limit 1 >/dev/null 2>&1
echo "first query (the folder listing compared with the index): $(echo "$(date +%s.%N) - $start" | bc) s"
# The middle of the history and a job seen there, for the point queries.
mid=$(lt --json --limit 0 | python3 -c 'import json,sys; r=json.load(sys.stdin)["rows"]; print(r[len(r)//2]["from"])')
job=$(lt --json --at "$mid" | python3 -c 'import json,sys; print(json.load(sys.stdin)["running"][0]["job_id"])')
time_ms() {
  # the best of 3 runs (the first warms the page cache), in ms, and the output's size
  local best=999999 t0 t1 ms
  for _ in 1 2 3; do
    t0=$(date +%s%N); lt "$@" >"$work/out" 2>"$work/err" || { echo "  snapshots $*: exit $? ($(head -1 "$work/err"))"; return 0; }; t1=$(date +%s%N)
    ms=$(( (t1 - t0) / 1000000 )); (( ms < best )) && best=$ms
  done
  grep -q rebuilt "$work/err" && echo "  (rebuilt: the index was not current!)"
  printf '  %-58s %5d ms  (%s lines)\n' "snapshots $*" "$best" "$(wc -l <"$work/out")"
}
echo "query times over $count snapshots (best of 3, whole process):"
time_ms
time_ms --limit 0 --json
time_ms --since 2025-06-01 --until 2025-06-30 --limit 0
time_ms --at "$mid"
time_ms --at "$mid" --json
time_ms --job "$job"
time_ms --flag stage_3_complete.flag
time_ms --experiment exp10
time_ms --experiment exp10 --json
echo "reindex from the files:"
t0=$(date +%s%N); "$target/labtrail" snapshots reindex --dir "$dir"; t1=$(date +%s%N)
echo "  snapshots reindex: $(( (t1 - t0) / 1000000 )) ms"
