#!/usr/bin/env bash
# What one snapshot costs on the scheduler side with 1,000 queued jobs (issue 13; target <= 1 s
# excluding disk usage): a held array of 1,000 elements is submitted to the real cluster, then
# `snapshot::collect` (examples/snapshot_collect.rs; no folder measured, no flags) is timed:
# three snapshots with the array queued (one squeue call each), then one more, the array is
# cancelled, and the next snapshot asks sacct once about its 1,000 gone elements. The array is cancelled on exit.
#
#   bash bench/snapshot_cost.sh [JOBS] [PROFILE]     # PROFILE: release (default) or dev
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${1:-1000}
profile=${2:-release}
if [ "$profile" = release ]; then
  cargo build --release --quiet --example snapshot_collect
  bin=${CARGO_TARGET_DIR:-target}/release/examples/snapshot_collect
else
  cargo build --quiet --example snapshot_collect
  bin=${CARGO_TARGET_DIR:-target}/debug/examples/snapshot_collect
fi
sinfo -h > /dev/null || { echo "snapshot_cost.sh: no SLURM cluster answers" >&2; exit 1; }
dir=$(mktemp -d /tmp/labtrail-snapshot-bench.XXXXXX)
array=$(sbatch --parsable -J "ltbench$$" -o /dev/null -H --array=0-$((jobs - 1)) --mem=10M \
  -D "$dir" --wrap 'sleep 1')
trap 'scancel "$array" 2>/dev/null || true; rm -rf "$dir"' EXIT
printf '[snapshot]\nflags = []\njobs = "^ltbench%s$"\n' "$$" > "$dir/labtrail.toml"
echo "queue: $(squeue -h -r -j "$array" | wc -l) elements of the held array $array," \
  "$(squeue -h -r | wc -l) jobs in all ($profile build)"
t0=$(date +%s%N)
squeue -h -r -t all --me -O 'JobArrayID:|,State:|' > /dev/null
echo "bare squeue -r of the queue: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
"$bin" "$dir/experiment_snapshots" --repeat 3 2>&1 | sed 's/^/queued:    /'
"$bin" "$dir/experiment_snapshots" --repeat 2 --between "scancel $array; sleep 3" 2>&1 |
  awk 'NR == 1 { print "queued:    " $0; next } { print "cancelled: " $0 }'
