#!/usr/bin/env bash
# The metric summary of a 10^6-line stream: a real task writes 10^6 records to $LABTRAIL_METRICS
# (step, t, loss, acc: ~57 bytes each, under the 64 MiB a metrics file is read up to), labtrail stores them, then
# `labtrail metrics TASK --summary` reads them back from the store line by line and summarises
# every key (last, best, step of best, NaN count, steps/s, step time mean and p95).
#
#   bash bench/metrics_summary.sh          # N=1000000 by default; ROUNDS=5 timings, median shown
#
# Target (issue 12): 10^6 lines summarised in <= 1 s, end to end (process start, store open,
# read, parse, summarise, print); the peak RSS is printed too (O(keys) memory: it does not grow
# with N).
set -euo pipefail

N=${N:-1000000}
ROUNDS=${ROUNDS:-5}
root=$(cd "$(dirname "$0")/.." && pwd)

echo "building labtrail (release) ..." >&2
(cd "$root" && cargo build --release -q)
target=${CARGO_TARGET_DIR:-$root/target}
labtrail=$target/release/labtrail

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
cat > exp.toml <<TOML
[experiment]
name = "metrics-bench"
command = "python3 write.py"
TOML
cat > write.py <<PY
import os, random
random.seed(1)
with open(os.environ["LABTRAIL_METRICS"], "w") as f:
    t = 0.0
    for s in range($N):
        t += 0.05 + random.random() * 0.01
        f.write('{"step":%d,"t":%.2f,"loss":%.5f,"acc":%.4f}\n' % (s, t, 2.0 / (1 + s / 1000), min(1, s / $N)))
PY
echo "writing and storing $N metric lines ..." >&2
"$labtrail" run exp.toml --no-progress -q >/dev/null
key=$("$labtrail" tasks --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["key"])')
stored=$(sqlite3 .labtrail/labtrail.db "SELECT COUNT(*) FROM metrics" 2>/dev/null || echo "?")
echo "stored lines: $stored" >&2

times=()
for _ in $(seq "$ROUNDS"); do
    /usr/bin/time -f "%e %M" -o time.txt "$labtrail" metrics "$key" --summary > summary.txt
    times+=("$(cat time.txt)")
done
cat summary.txt
printf '%s\n' "${times[@]}" | sort -n | awk -v n="$ROUNDS" -v lines="$N" '
    { s[NR] = $1; m[NR] = $2 }
    END { med = s[int((n + 1) / 2)]; printf "labtrail metrics --summary over %d lines: median %.2f s of %d rounds (min %.2f s), peak RSS %d KiB\n", lines, med, n, s[1], m[int((n + 1) / 2)] }'
