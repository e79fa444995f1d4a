#!/usr/bin/env bash
# `labtrail diff A B` on two 10^4-task archive JSON files (issue 12, target: <= 1 s), the whole
# command: reading and parsing both files, pairing the tasks, comparing, writing the text.
#
#   bash bench/diff_cost.sh          # builds the release binary first
#   N=100000 bash bench/diff_cost.sh # other sizes
#
# A is the committed sample archive (tests/fixtures/archive_run.json) with its tasks repeated to
# N, each with 4 metric summaries; B has a tenth of the commands changed (new keys: paired by
# stage and parameters), every metric moved and a tenth of the durations doubled, so the diff
# has tens of thousands of entries to print. Timed with the median of ROUNDS runs.
set -euo pipefail

N=${N:-10000}
ROUNDS=${ROUNDS:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "building labtrail (release) ..." >&2
(cd "$root" && cargo build --release -q --bin labtrail)
bin=$target/release/labtrail

python3 - "$root/tests/fixtures/archive_run.json" "$tmp" "$N" <<'PY'
import copy, json, sys
src, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
a = json.load(open(src))
template = a["tasks"][0]
metrics = [dict(template["metrics"][0], key=k) for k in ("val_loss", "train_loss", "ppl", "wer")]
tasks = []
for i in range(n):
    t = copy.deepcopy(template)
    t.update(key=f"k{i:08x}", label=f"train/rep={i}", params={"rep": i}, metrics=copy.deepcopy(metrics))
    t["command"] = f"python train.py --rep {i}"
    tasks.append(t)
a["tasks"] = tasks
b = copy.deepcopy(a)
b["summary"]["run_id"] = "bench-b"
for i, t in enumerate(b["tasks"]):
    if i % 10 == 0:
        t["key"] = "n" + t["key"][1:]
        t["command"] += " --fp16"
        t["duration_s"] *= 2
    for m in t["metrics"]:
        m["best"] *= 0.99
        m["last"] *= 1.01
json.dump(a, open(f"{out}/a.json", "w"))
json.dump(b, open(f"{out}/b.json", "w"))
PY
ls -la "$tmp"/a.json "$tmp"/b.json | awk '{print $5, $9}' >&2

times=()
for _ in $(seq "$ROUNDS"); do
    start=$(date +%s.%N)
    code=0
    "$bin" diff "$tmp/a.json" "$tmp/b.json" >"$tmp/out.txt" || code=$?
    end=$(date +%s.%N)
    [ "$code" = 1 ] || { echo "expected exit 1 (different), got $code" >&2; exit 1; }
    times+=("$(echo "$end - $start" | bc)")
done
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (ROUNDS + 1) / 2 ))p")
echo "diff of two $N-task archives: median ${median} s over $ROUNDS runs ($(wc -l <"$tmp/out.txt") lines of output; target <= 1 s)"
