#!/usr/bin/env bash
# What `labtrail archive` costs on a run of 10^4 tasks with 1,000 metric lines each (10^7
# metric rows): wall time and peak RSS (/usr/bin/time -v) per format. Targets (issue 12):
# <= 2 s and <= 200 MB. The store is made by the real binary (a few minutes on 2 cores).
#
#   bash bench/archive_cost.sh [TASKS] [LINES]
set -euo pipefail
cd "$(dirname "$0")/.."
tasks=${1:-10000}
lines=${2:-1000}
cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-target}/release/labtrail
dir=$(mktemp -d /tmp/labtrail-archive-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/task.sh" <<EOF
awk -v x="\$1" 'BEGIN { for (i = 1; i <= $lines; i++) printf "{\"step\":%d,\"loss\":%.6f,\"acc\":%.6f}\n", i, x / i, 1 - 1 / i }' > "\$LABTRAIL_METRICS"
echo '{"ok": true}' > "\$LABTRAIL_RESULT"
EOF
{
  echo '[experiment]'
  echo 'name = "bench"'
  echo "command = \"sh $dir/task.sh {x}\""
  echo '[params]'
  echo "x = [$(seq -s, 1 "$tasks")]"
} > "$dir/exp.toml"
start=$(date +%s)
"$bin" run "$dir/exp.toml" -j 4 --no-progress --quiet > /dev/null
echo "store: $tasks tasks x $lines metric lines made in $(( $(date +%s) - start )) s;" \
  "database $(du -sh "$dir/.labtrail/labtrail.db" | cut -f1)"
for format in json html md; do
  /usr/bin/time -v "$bin" archive --store "$dir/.labtrail" --format "$format" -o "$dir/a.$format" \
    2> "$dir/time.txt"
  wall=$(grep 'Elapsed (wall clock)' "$dir/time.txt" | awk '{print $NF}')
  rss=$(grep 'Maximum resident set size' "$dir/time.txt" | awk '{print $NF}')
  echo "archive --format $format: wall $wall, peak RSS $((rss / 1024)) MB, output $(du -h "$dir/a.$format" | cut -f1)"
done
# A run made before attempts recorded their summaries: every metric line is read and summarised.
sqlite3 "$dir/.labtrail/labtrail.db" "DELETE FROM records WHERE kind = 'metric_summary'"
/usr/bin/time -v "$bin" archive --store "$dir/.labtrail" --format json -o "$dir/b.json" 2> "$dir/time.txt"
wall=$(grep 'Elapsed (wall clock)' "$dir/time.txt" | awk '{print $NF}')
rss=$(grep 'Maximum resident set size' "$dir/time.txt" | awk '{print $NF}')
echo "archive --format json, no recorded summaries (all $((tasks * lines)) lines read): wall $wall, peak RSS $((rss / 1024)) MB"
