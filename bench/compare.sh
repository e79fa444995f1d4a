#!/usr/bin/env bash
# labtrail side by side with xargs -P2 and GNU parallel -j2 on trivial tasks, then the no-op
# resume of a finished 100,000-task run and the plan of a 10^6-combination grid.
#
#   bash bench/compare.sh    # ~4 min on 2 cores: the 100,000-task run is real (~2 min of it)
#
# Sizes can be lowered for a quick look: N=500 RESUME_N=5000 GRID_SIDE=20 bash bench/compare.sh
# Targets: labtrail within 1.2x of xargs; no-op resume of 100k under 1 s; plan of 10^6 under 2 s.
# The temporary folder is on $TMPDIR (default /tmp): its filesystem matters, labtrail fsyncs.
# It is deleted at the end; on ext4, creating files stays slower for a few minutes after a large
# deletion (recently deleted inodes are skipped), so let a few minutes pass between two runs. For
# figures that do not depend on the filesystem's history, point TMPDIR at a freshly made one:
#   truncate -s 8G /var/tmp/fs.img && mkfs.ext4 -q -N 3000000 /var/tmp/fs.img
#   mkdir -p /mnt/fresh && mount -o loop /var/tmp/fs.img /mnt/fresh && TMPDIR=/mnt/fresh bash bench/compare.sh
set -euo pipefail

N=${N:-5000}                 # trivial tasks for the side-by-side comparison
ROUNDS=${ROUNDS:-5}          # labtrail and xargs run in turns this many times; medians compared
RESUME_N=${RESUME_N:-100000} # tasks of the run whose no-op resume is timed
GRID_SIDE=${GRID_SIDE:-100}  # the plan grid is GRID_SIDE^3 combinations
WORKERS=2

root=$(cd "$(dirname "$0")/.." && pwd)

# GNU parallel (moreutils ships another `parallel`, which has no --joblog).
if ! parallel --version 2>/dev/null | grep -q 'GNU parallel'; then
    if [ "$(id -u)" = 0 ]; then
        echo "installing GNU parallel ..." >&2
        apt-get install -y parallel >/dev/null 2>&1 ||
            { apt-get update >/dev/null 2>&1 && apt-get install -y parallel >/dev/null 2>&1; } ||
            echo "could not install GNU parallel; its row is skipped" >&2
    else
        echo "GNU parallel is missing: install it with 'sudo apt-get install parallel' (its row is skipped)" >&2
    fi
fi
have_parallel=false
parallel --version 2>/dev/null | grep -q 'GNU parallel' && have_parallel=true

echo "building labtrail (release) ..." >&2
(cd "$root" && cargo build --release -q)
bin=$root/target/release/labtrail

tmp=$(mktemp -d "${TMPDIR:-/tmp}/labtrail-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
have_time=false
[ -x /usr/bin/time ] && /usr/bin/time -f %M true 2>/dev/null && have_time=true

# Nanoseconds since the epoch.
ns() { date +%s%N; }
# ms with 3 decimals: ms_of NANOSECONDS [DIVISOR]
ms_of() { awk -v t="$1" -v d="${2:-1}" 'BEGIN { printf "%.3f", t / d / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# Runs "$@" (stdout and stderr to $tmp/out.log); sets ELAPSED (ns) and RSS (peak kB, or "-").
measure() {
    local t0 t1
    if $have_time; then
        t0=$(ns)
        /usr/bin/time -f %M -o "$tmp/rss" "$@" >"$tmp/out.log" 2>&1
        t1=$(ns)
        RSS=$(tail -n1 "$tmp/rss")
    else
        t0=$(ns)
        "$@" >"$tmp/out.log" 2>&1
        t1=$(ns)
        RSS=-
    fi
    ELAPSED=$((t1 - t0))
}

# An experiment file: name, command, then one `name = [values]` line per parameter (stdin).
experiment() {
    printf '[experiment]\nname = "%s"\ncommand = "%s"\n\n[run]\nworkers = %d\n\n[params]\n' "$1" "$2" "$WORKERS"
    cat
}
list() { seq -s ', ' 0 $(($1 - 1)) | sed 's/^/[/; s/$/]/'; }

echo "running ($N trivial tasks, $WORKERS workers; temp folder on $(stat -f -c %T "$tmp")) ..." >&2

# 1. The same N trivial commands, each `/bin/sh -c ': I'`, two at a time. labtrail and xargs run
# in turns, ROUNDS times, and the medians are compared: on a shared machine the speed of the disk
# and CPUs drifts during a benchmark, and labtrail, which writes, feels the disk and xargs does not.
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "i = $(list "$N")" | experiment trivial ': {i}' >"$tmp/exp.toml"
lts=() xs=()
for r in $(seq "$ROUNDS"); do
    mkdir "$tmp/lt$r"
    cp "$tmp/exp.toml" "$tmp/lt$r/"
    measure "$bin" run "$tmp/lt$r/exp.toml" --no-progress -q
    lts+=("$ELAPSED")
    grep -q "$N/$N done" "$tmp/out.log" || { echo "labtrail run failed:" >&2; cat "$tmp/out.log" >&2; exit 1; }
    measure sh -c "seq 0 $((N - 1)) | xargs -P$WORKERS -I{} /bin/sh -c ': {}'"
    xs+=("$ELAPSED")
done
t_lt=$(median "${lts[@]}")
t_xargs=$(median "${xs[@]}")

t_par=
if $have_parallel; then
    measure sh -c "seq 0 $((N - 1)) | parallel -j$WORKERS --joblog '$tmp/joblog' ': {}'"
    t_par=$ELAPSED
fi

# The spawn floor: N fork+exec+wait of /bin/sh in sequence; two workers can at best halve it.
measure bash -c "for ((i = 0; i < $N; i++)); do /bin/sh -c \": \$i\"; done"
t_floor=$ELAPSED

# 2. A finished run of RESUME_N tasks, then its no-op resume (median of 3).
mkdir "$tmp/resume"
echo "i = $(list "$RESUME_N")" | experiment resume ': {i}' >"$tmp/resume/exp.toml"
echo "running $RESUME_N trivial tasks once (the run to resume; ~2 min) ..." >&2
measure "$bin" run "$tmp/resume/exp.toml" --no-progress -q
t_first=$ELAPSED rss_first=$RSS
grep -q "$RESUME_N/$RESUME_N done" "$tmp/out.log" || { echo "the $RESUME_N-task run failed:" >&2; tail "$tmp/out.log" >&2; exit 1; }
resumes=()
rss_resume=-
for _ in 1 2 3; do
    measure "$bin" run "$tmp/resume/exp.toml" --no-progress -q
    resumes+=("$ELAPSED")
    rss_resume=$RSS
done
t_resume=$(printf '%s\n' "${resumes[@]}" | sort -n | sed -n 2p)

# 3. The plan of a GRID_SIDE^3 grid, without running anything.
mkdir "$tmp/plan"
l=$(list "$GRID_SIDE")
printf 'a = %s\nb = %s\nc = %s\n' "$l" "$l" "$l" | experiment grid ': {a} {b} {c}' >"$tmp/plan/exp.toml"
grid=$((GRID_SIDE * GRID_SIDE * GRID_SIDE))
measure sh -c "'$bin' run '$tmp/plan/exp.toml' --dry-run >/dev/null"
t_plan=$ELAPSED rss_plan=$RSS

# The table.
echo
printf '%-52s %12s %12s %10s\n' "$N trivial tasks, $WORKERS workers (median of $ROUNDS)" "wall (s)" "ms / task" "ratio"
row() { printf '%-52s %12s %12s %10s\n' "$1" "$(ms_of "$2" 1000)" "$(ms_of "$2" "$N")" "$3"; }
row "labtrail run --no-progress -q" "$t_lt" "1.00"
row "xargs -P$WORKERS sh -c" "$t_xargs" "$(ratio "$t_xargs" "$t_lt")"
if [ -n "$t_par" ]; then row "parallel -j$WORKERS --joblog" "$t_par" "$(ratio "$t_par" "$t_lt")"; fi
row "spawn floor: $N x sh -c, in sequence" "$t_floor" "$(ratio "$t_floor" "$t_lt")"
printf '%-52s %12s %12s\n' "  ... the same floor shared by $WORKERS workers" "$(ms_of "$t_floor" $((1000 * WORKERS)))" "$(ms_of "$t_floor" $((N * WORKERS)))"
echo
echo "labtrail / xargs    = $(ratio "$t_lt" "$t_xargs")   (target <= 1.2)"
[ -n "$t_par" ] && echo "parallel / labtrail = $(ratio "$t_par" "$t_lt")"
echo
printf '%-52s %12s %14s %10s\n' "scale" "wall (s)" "peak RSS (MB)" "target"
mb() { if [ "$1" = - ]; then echo -; else awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; fi; }
printf '%-52s %12s %14s %10s\n' "first run of $RESUME_N trivial tasks ($(ms_of "$t_first" "$RESUME_N") ms/task)" "$(ms_of "$t_first" 1000)" "$(mb "$rss_first")" ""
printf '%-52s %12s %14s %10s\n' "no-op resume of the finished $RESUME_N-task run" "$(ms_of "$t_resume" 1000)" "$(mb "$rss_resume")" "< 1 s"
printf '%-52s %12s %14s %10s\n' "plan of a $grid-combination grid (--dry-run)" "$(ms_of "$t_plan" 1000)" "$(mb "$rss_plan")" "< 2 s"
