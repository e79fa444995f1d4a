#!/usr/bin/env bash
# What provenance capture costs a run (issue 12):
#  1. the time from `labtrail run` starting to its first task starting, with capture on and with
#     `[archive] capture = false`, side by side (budget: at most 150 ms added), in a git
#     repository with a dirty file, and the capture's own critical path from its `capture_cost`
#     record;
#  2. the data snapshot of 10^5 small files: first (hashing every file) and again unchanged
#     (from the cache by dev, inode, size, mtime; budget: 1 s), from the `probe_ms` the
#     `capture_cost` record holds.
# About a minute after the build. LABTRAIL_BIN=path uses that binary instead of a release build.
#
#   bash bench/capture_cost.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-15}
if [ -z "${LABTRAIL_BIN:-}" ]; then
    cargo build --release --bin labtrail -q
    LABTRAIL_BIN="${CARGO_TARGET_DIR:-target}/release/labtrail"
fi
bin=$(realpath "$LABTRAIL_BIN")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
p90() { sort -n | awk '{a[NR]=$1} END {i=int(NR*0.9); if (i<1) i=1; print a[i]}'; }

# 1. Time to the first task, capture on and off.
for mode in on off; do
    d="$work/start-$mode"
    mkdir -p "$d"
    (cd "$d" && git init -q && for i in $(seq 200); do echo "line $i" > "f$i.py"; done \
        && git add . && git -c user.name=b -c user.email=b@b commit -qm init && echo dirty >> f1.py)
    capture=true; [ "$mode" = off ] && capture=false
    cat > "$d/exp.toml" <<TOML
[experiment]
name = "capture-cost"
command = "date +%s%N > started"
[archive]
capture = $capture
TOML
    : > "$work/$mode.ms"
    for _ in $(seq "$runs"); do
        t0=$(date +%s%N)
        (cd "$d" && "$bin" run exp.toml --fresh -q >/dev/null 2>&1)
        t1=$(cat "$d/started")
        echo $(( (t1 - t0) / 1000000 )) >> "$work/$mode.ms"
    done
done
crit=$(sqlite3 "$work/start-on/.labtrail/labtrail.db" \
    "SELECT json_extract(json, '$.critical_path_ms') FROM records WHERE kind = 'capture_cost'" | median)
printf '%-34s %12s %12s\n' "run start -> first task (ms)" "capture on" "capture off"
printf '%-34s %12s %12s\n' "  median of $runs" "$(median < "$work/on.ms")" "$(median < "$work/off.ms")"
printf '%-34s %12s %12s\n' "  p90" "$(p90 < "$work/on.ms")" "$(p90 < "$work/off.ms")"
printf '%-34s %12s\n' "capture critical path, median (ms)" "$crit"

# 2. Data snapshot of 10^5 files, first and unchanged.
d="$work/data"
mkdir -p "$d/data"
python3 - "$d/data" <<'PY'
import os, sys
root = sys.argv[1]
for i in range(100_000):
    sub = os.path.join(root, f"{i // 1000:03d}")
    if i % 1000 == 0:
        os.makedirs(sub, exist_ok=True)
    with open(os.path.join(sub, f"{i}.jsonl"), "w") as f:
        f.write('{"i": %d}\n' % i)
PY
# Settled files only are remembered (written more than 2 s ago).
find "$d/data" -type f -exec touch -d '1 hour ago' {} +
cat > "$d/exp.toml" <<'TOML'
[experiment]
name = "data-cost"
command = "for i in $(seq 1200); do sqlite3 \"$LABTRAIL_STORE/labtrail.db\" \"SELECT count(*) FROM records WHERE kind = 'capture_cost' AND run_id = '$LABTRAIL_RUN_ID'\" | grep -q 1 && exit 0; sleep 0.1; done; exit 1"
[archive]
data = ["data"]
TOML
for pass in first unchanged; do
    (cd "$d" && "$bin" run exp.toml --fresh -q >/dev/null 2>&1)
    ms=$(sqlite3 "$d/.labtrail/labtrail.db" \
        "SELECT json_extract(json, '$.probe_ms.data') FROM records WHERE kind = 'capture_cost' ORDER BY id DESC LIMIT 1")
    files=$(sqlite3 "$d/.labtrail/labtrail.db" \
        "SELECT json_extract(json, '$.data[0].files') FROM records WHERE kind = 'provenance' ORDER BY id DESC LIMIT 1")
    printf 'data snapshot, %-9s %6s files: %6s ms\n' "$pass" "$files" "$ms"
done
