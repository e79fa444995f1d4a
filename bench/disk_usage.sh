#!/usr/bin/env bash
# The snapshot's disk walk (snapshot::du::measure, through examples/du_bench.rs) against `du -sb`
# on the same tree of N files (default 10^5), in one run (issue 13; target: the same bytes, or
# within 1 %, and faster than du).
#
#   bash bench/disk_usage.sh            # builds the release example first
#   N=1000000 THREADS=8 bash bench/disk_usage.sh
#
# The tree: N/100 run folders of 100 files each (sizes 0..64 KiB), one hard link and one symlink
# per folder, a sparse file per 1,000 files. Cold-ish: as root, the kernel's dentry and inode
# caches are dropped before each cold run (`echo 2 > drop_caches`: metadata only, the page cache
# other processes use stays); otherwise the cold rows are skipped. Cold and warm: median of ROUNDS
# runs each.
set -euo pipefail

N=${N:-100000}
ROUNDS=${ROUNDS:-5}
THREADS=${THREADS:-$(nproc)}
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "building the du_bench example (release) ..." >&2
(cd "$root" && cargo build --release -q --example du_bench)
bench=$target/release/examples/du_bench

echo "making a tree of $N files in $tmp ..." >&2
python3 - "$tmp/tree" "$N" <<'PY'
import os, sys
top, n = sys.argv[1], int(sys.argv[2])
for d in range(max(1, n // 100)):
    folder = os.path.join(top, f"run_{d:05d}", "out")
    os.makedirs(folder)
    for f in range(100):
        i = d * 100 + f
        with open(os.path.join(folder, f"f{f:03d}.dat"), "wb") as fh:
            fh.write(b"x" * (i * 7919 % 65536))
    os.link(os.path.join(folder, "f000.dat"), os.path.join(folder, "hardlink.dat"))
    os.symlink("f001.dat", os.path.join(folder, "symlink.dat"))
    if d % 10 == 0:
        with open(os.path.join(folder, "sparse.img"), "wb") as fh:
            fh.truncate(1 << 30)
PY

now() { date +%s%N; }
can_drop=false
if [ -w /proc/sys/vm/drop_caches ]; then can_drop=true; fi
drop() { sync; echo 2 >/proc/sys/vm/drop_caches; }

run_du() { du -sb "$tmp/tree" | cut -f1; }
run_lt() { "$bench" "$tmp/tree" --threads "$THREADS" | tr ' ' '\n' | sed -n 's/^bytes=//p'; }

# ms of one run of "$1"; the figure it printed goes to $tmp/figure_$1.
time_one() {
    local t0 t1
    t0=$(now)
    "run_$1" >"$tmp/figure_$1"
    t1=$(now)
    echo $(((t1 - t0) / 1000000))
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

if $can_drop; then
    # Alternating, so neither always runs right after the other's reads.
    for _ in $(seq "$ROUNDS"); do
        drop; time_one du >>"$tmp/cold_du"
        drop; time_one lt >>"$tmp/cold_lt"
    done
    cold_du=$(median <"$tmp/cold_du")
    cold_lt=$(median <"$tmp/cold_lt")
fi
for _ in $(seq "$ROUNDS"); do time_one du; done | median >"$tmp/warm_du"
for _ in $(seq "$ROUNDS"); do time_one lt; done | median >"$tmp/warm_lt"
warm_du=$(cat "$tmp/warm_du")
warm_lt=$(cat "$tmp/warm_lt")
bytes_du=$(cat "$tmp/figure_du")
bytes_lt=$(cat "$tmp/figure_lt")

echo "files: $N, threads: $THREADS, cores: $(nproc), load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bytes: du -sb $bytes_du, labtrail $bytes_lt, difference $((bytes_lt - bytes_du)) bytes"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) b = 1; printf "%.2f", a / b }'; }
if $can_drop; then
    echo "cold-ish (dentry+inode caches dropped, median of $ROUNDS): du ${cold_du} ms, labtrail ${cold_lt} ms, du/labtrail $(ratio "$cold_du" "$cold_lt")"
else
    echo "cold-ish: skipped (needs root to drop the dentry and inode caches)"
fi
echo "warm (median of $ROUNDS): du ${warm_du} ms, labtrail ${warm_lt} ms, du/labtrail $(ratio "$warm_du" "$warm_lt")"
