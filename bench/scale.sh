#!/usr/bin/env bash
# Every figure of issue 15 (a million tasks) in one script: the first run of N trivial tasks next
# to xargs -P2 on the same N commands, its no-op resume, each query on the finished store (wall
# and peak RSS), the files and bytes the run left, the plan of a GRID_SIDE^3 grid, and on request
# the SLURM monitor's poll. Each figure is printed with its target (the issue's, for 10^6 tasks).
#
#   bash bench/scale.sh                    # N=1000000: ~45 min on 2 cores (0.9.0: 7 GB, 3M inodes)
#   N=20000 bash bench/scale.sh            # a quick look (~1 min)
#   N=100000 POLL=1 bash bench/scale.sh    # ... plus examples/poll_bench's table
#
# Knobs: N (tasks), GRID_SIDE (plan grid side; 100 = 10^6 combinations), REPEAT (runs of each
# query and of the resume; the median wall and the largest RSS are shown), XARGS=0 (skip xargs),
# POLL=1 (run `cargo run --release --example poll_bench`), LABTRAIL_BIN (a built binary: no cargo
# build; else the release build in $CARGO_TARGET_DIR or target/), INSTALL=0 (install nothing).
#
# Timings are noisy on a shared machine (the load average is printed next to each); peak RSS,
# bytes and inodes are not, and they are what the targets at 10^6 are chiefly about.
# The temporary folder is on $TMPDIR (default /tmp) and deleted at the end. Its filesystem
# matters: labtrail creates files and fsyncs, xargs does neither; on ext4, creating files stays
# slower for minutes after a large deletion (recently freed inodes are skipped one by one), so
# let a few minutes pass between two runs, or point TMPDIR at a freshly made filesystem:
#   truncate -s 16G /var/tmp/fs.img && mkfs.ext4 -q -N 5000000 /var/tmp/fs.img
#   mkdir -p /mnt/fresh && mount -o loop /var/tmp/fs.img /mnt/fresh && TMPDIR=/mnt/fresh bash bench/scale.sh
set -euo pipefail
export LC_ALL=C
unset LABTRAIL_STORE

N=${N:-1000000}
GRID_SIDE=${GRID_SIDE:-100}
REPEAT=${REPEAT:-3}
XARGS=${XARGS:-1}
POLL=${POLL:-0}
INSTALL=${INSTALL:-1}
WORKERS=2

# Issue 15's targets, for 10^6 tasks.
T_STATUS_S=0.2       # status
T_CSV_S=3            # results --format csv
T_QUERY_MB=50        # every query's peak RSS
T_RESUME_S=3         # no-op resume
T_RUN_B_PER_TASK=300 # runner's peak RSS per task (plus the running tasks)
T_INODES=1.2         # inodes in .labtrail per trivial task
T_DB_B_PER_TASK=300  # database bytes per trivial task (dbstat)
T_PLAN_S=1           # plan of 10^6 combinations
T_PLAN_MB=100
T_XARGS=1.2          # labtrail's first run against xargs, as bench/compare.sh

root=$(cd "$(dirname "$0")/.." && pwd)

# The sqlite3 CLI (for dbstat) and GNU time (for peak RSS), installed when root like
# bench/compare.sh installs GNU parallel; without them their figures are "-".
install() {
    if [ "$INSTALL" = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing $1 ..." >&2
        apt-get install -y "$1" >/dev/null 2>&1 ||
            { apt-get update >/dev/null 2>&1 && apt-get install -y "$1" >/dev/null 2>&1; } ||
            echo "could not install $1; $2 are '-'" >&2
    else
        echo "$1 is missing ('sudo apt-get install $1'); $2 are '-'" >&2
    fi
}
/usr/bin/time -f %M true >/dev/null 2>&1 || install time "peak RSS figures"
command -v sqlite3 >/dev/null || install sqlite3 "the dbstat figures"
have_time=false
/usr/bin/time -f %M true >/dev/null 2>&1 && have_time=true
have_sqlite=false
command -v sqlite3 >/dev/null && have_sqlite=true

if [ -n "${LABTRAIL_BIN:-}" ]; then
    bin=$LABTRAIL_BIN
else
    echo "building labtrail (release) ..." >&2
    (cd "$root" && cargo build --release -q)
    target=${CARGO_TARGET_DIR:-$root/target}
    case $target in /*) ;; *) target=$root/$target ;; esac
    bin=$target/release/labtrail
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/labtrail-scale.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
report=$tmp/report

ns() { date +%s%N; }
load() { cut -d' ' -f1 /proc/loadavg; }
# Formatting, all through awk: seconds or ms from ns, MB from kB, a per-task figure, a ratio.
s_of() { awk -v t="$1" 'BEGIN { printf "%.3f", t / 1e9 }'; }
ms_per() { awk -v t="$1" -v n="$2" 'BEGIN { printf "%.3f", t / n / 1e6 }'; }
mb() { if [ "$1" = - ]; then echo -; else awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; fi; }
kb_to_b() { if [ "$1" = - ]; then echo -; else echo $(($1 * 1024)); fi; }
b_per() { if [ "$1" = - ]; then echo -; else awk -v b="$1" -v n="$2" 'BEGIN { printf "%.0f", b / n }'; fi; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# "yes" when VALUE <= LIMIT, "no" otherwise, "-" when there is no value.
met() { if [ "$1" = - ]; then echo -; else awk -v v="$1" -v l="$2" 'BEGIN { print (v <= l) ? "yes" : "no" }'; fi; }
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# Runs "$@", stdout to $tmp/out, stderr to $tmp/err; sets WALL (ns), RSS (peak kB or -), CODE
# and LOAD (the 1-minute load average before-after: after a long step it tells the step's own).
measure() {
    local t0 t1
    LOAD=$(load)
    t0=$(ns)
    if $have_time; then
        /usr/bin/time -f %M -o "$tmp/rss" "$@" >"$tmp/out" 2>"$tmp/err" && CODE=0 || CODE=$?
        RSS=$(tail -n1 "$tmp/rss")
    else
        "$@" >"$tmp/out" 2>"$tmp/err" && CODE=0 || CODE=$?
        RSS=-
    fi
    t1=$(ns)
    WALL=$((t1 - t0))
    LOAD=$LOAD-$(load)
}
# Stops the benchmark when the last command failed: a figure of a failed command is no figure.
expect_ok() {
    if [ "$CODE" != 0 ]; then
        echo "$1 failed (exit $CODE):" >&2
        tail -n 20 "$tmp/err" >&2
        exit 1
    fi
}
# measure, REPEAT times: WALL is the median, RSS the largest, LOAD the first.
measure_repeated() {
    local walls=() rss=0 first_load=
    for _ in $(seq "$REPEAT"); do
        measure "$@"
        expect_ok "$*"
        walls+=("$WALL")
        first_load=${first_load:-$LOAD}
        if [ "$RSS" = - ] || [ "$rss" = - ]; then rss=-; elif [ "$RSS" -gt "$rss" ]; then rss=$RSS; fi
    done
    WALL=$(median "${walls[@]}") RSS=$rss LOAD=$first_load
}

# An experiment file: name, command, then the [params] lines (stdin).
experiment() {
    printf '[experiment]\nname = "%s"\ncommand = "%s"\n\n[run]\nworkers = %d\n\n[params]\n' "$1" "$2" "$WORKERS"
    cat
}

echo "scale benchmark: N=$N, $WORKERS workers, temp folder on $(stat -f -c %T "$tmp"), load $(load)" >&2

# 1. The first run of N trivial tasks, `true {i}`, then the same N commands with xargs.
mkdir "$tmp/run"
echo "i = { range = [0, $N] }" | experiment scale 'true {i}' >"$tmp/run/exp.toml"
store=$tmp/run/.labtrail
echo "first run of $N tasks ..." >&2
measure "$bin" run "$tmp/run/exp.toml" --id scale --no-progress -q
expect_ok "labtrail run"
grep -q "$N/$N done" "$tmp/out" "$tmp/err" || { echo "the run did not finish its $N tasks:" >&2; tail "$tmp/out" "$tmp/err" >&2; exit 1; }
run_wall=$WALL run_rss=$RSS run_load=$LOAD

xargs_wall=- xargs_rss=- xargs_load=-
if [ "$XARGS" = 1 ]; then
    echo "the same $N commands with xargs -P$WORKERS ..." >&2
    measure sh -c "seq 0 $((N - 1)) | xargs -P$WORKERS -I{} /bin/sh -c 'true {}'"
    expect_ok "xargs"
    xargs_wall=$WALL xargs_rss=$RSS xargs_load=$LOAD
fi

# 2. The files and bytes the first run left (before anything else opens the store).
inodes=$(find "$store" | wc -l)
empty_files=$(find "$store" -type f -empty | wc -l)
folders=$(find "$store" -type d | wc -l)
du_bytes=$(($(du -sk "$store" | cut -f1) * 1024))
db_bytes=0
for f in "$store"/labtrail.db "$store"/labtrail.db-wal; do
    if [ -f "$f" ]; then db_bytes=$((db_bytes + $(stat -c %s "$f"))); fi
done
dbstat_bytes=-
if $have_sqlite && sqlite3 -readonly "$store/labtrail.db" \
    'SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC, 1' >"$tmp/dbstat" 2>"$tmp/err"; then
    dbstat_bytes=$(awk -F'|' '{ s += $2 } END { print s + 0 }' "$tmp/dbstat")
elif $have_sqlite; then
    echo "dbstat failed (a sqlite3 built without SQLITE_ENABLE_DBSTAT_VTAB?): $(head -c 200 "$tmp/err")" >&2
fi

# 3. The no-op resume of the finished run.
echo "no-op resume ($REPEAT times) ..." >&2
measure_repeated "$bin" run "$tmp/run/exp.toml" --no-progress -q
resume_wall=$WALL resume_rss=$RSS resume_load=$LOAD

# 4. The queries on the finished run, each REPEAT times. Their output goes to a file, as a user's
# redirection would, and is checked: a row is printed only for a command that did its job.
queries=$tmp/queries
: >"$queries"
query() {
    local label=$1 target_s=$2 check=$3
    shift 3
    echo "$label ..." >&2
    measure_repeated "$bin" "$@" --store "$store"
    local lines
    lines=$(wc -l <"$tmp/out")
    case $check in
        -) ;;
        *) [ "$lines" -ge "$check" ] || { echo "$label printed $lines lines, expected at least $check" >&2; exit 1; } ;;
    esac
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$WALL" "$RSS" "$target_s" "$lines" "$LOAD" >>"$queries"
}
query "status" "$T_STATUS_S" 1 status
query "status --json" - 1 status --json
query "results --format csv" "$T_CSV_S" $((N + 1)) results --format csv
query "results --format json" - 1 results --format json
query "results --format jsonl" - "$N" results --format jsonl
query "results --format md" - "$N" results --format md
query "results --sort i --desc (csv)" - $((N + 1)) results --sort i --desc --format csv
query "tasks --json" - 1 tasks --json
query "events --json" - "$N" events --json
query "list --json" - 1 list --json

# 5. The plan of a GRID_SIDE^3 grid, without running anything.
mkdir "$tmp/plan"
axis="{ range = [0, $GRID_SIDE] }"
printf 'a = %s\nb = %s\nc = %s\n' "$axis" "$axis" "$axis" | experiment grid 'true {a} {b} {c}' >"$tmp/plan/exp.toml"
grid=$((GRID_SIDE * GRID_SIDE * GRID_SIDE))
echo "plan of $grid combinations (--dry-run) ..." >&2
measure "$bin" run "$tmp/plan/exp.toml" --dry-run
expect_ok "run --dry-run"
plan_wall=$WALL plan_rss=$RSS plan_load=$LOAD

# 6. On request, one SLURM monitor poll from recorded scheduler output (examples/poll_bench.rs).
poll_out=
if [ "$POLL" = 1 ]; then
    echo "cargo run --release --example poll_bench ..." >&2
    poll_out=$(cd "$root" && cargo run --release -q --example poll_bench 2>&1) ||
        poll_out="poll_bench failed: $(tail -n 5 <<<"$poll_out")"
fi

# The tables. Targets are issue 15's, for 10^6 tasks: at a smaller N, "met" on a wall time
# proves little; per-task bytes, RSS and inodes compare at any N.
{
    echo
    echo "issue 15 scale benchmark: N=$N trivial tasks (true {i}), $WORKERS workers, $(nproc) cores, labtrail $("$bin" --version | awk '{ print $2 }')"
    echo "targets are for 10^6 tasks; load = 1-minute load average before-after the step"
    echo
    f='%-40s %10s %9s %10s %7s %9s %-22s %4s %9s\n'
    printf "$f" "run" "wall (s)" "ms/task" "RSS (MB)" "B/task" "vs xargs" "target" "met" "load"
    vs=- vs_met=-
    if [ "$xargs_wall" != - ]; then vs=$(ratio "$run_wall" "$xargs_wall") vs_met=$(met "$vs" "$T_XARGS"); fi
    printf "$f" "first run, labtrail" "$(s_of "$run_wall")" "$(ms_per "$run_wall" "$N")" "$(mb "$run_rss")" \
        "" "$vs" "<= $T_XARGS x xargs" "$vs_met" "$run_load"
    run_b=$(b_per "$(kb_to_b "$run_rss")" "$N")
    printf "$f" "  its peak RSS per task" "" "" "" "$run_b" "" "<= $T_RUN_B_PER_TASK + running" \
        "$(met "$run_b" "$T_RUN_B_PER_TASK")" ""
    if [ "$xargs_wall" != - ]; then
        printf "$f" "first run, xargs -P$WORKERS sh -c (same cmds)" "$(s_of "$xargs_wall")" "$(ms_per "$xargs_wall" "$N")" \
            "$(mb "$xargs_rss")" "" "1.00" "" "" "$xargs_load"
    fi
    printf "$f" "no-op resume (median of $REPEAT)" "$(s_of "$resume_wall")" "" "$(mb "$resume_rss")" \
        "$(b_per "$(kb_to_b "$resume_rss")" "$N")" "" "<= $T_RESUME_S s" \
        "$(met "$(s_of "$resume_wall")" "$T_RESUME_S")" "$resume_load"
    echo
    f='%-40s %10s %8s %5s %10s %8s %5s %10s %9s\n'
    printf "$f" "query (median of $REPEAT)" "wall (s)" "target" "met" "RSS (MB)" "target" "met" "lines" "load"
    while IFS=$'\t' read -r label wall rss target lines qload; do
        wall_s=$(s_of "$wall")
        wall_met=-
        [ "$target" = - ] || wall_met=$(met "$wall_s" "$target")
        rss_mb=$(mb "$rss")
        printf "$f" "$label" "$wall_s" "$([ "$target" = - ] && echo - || echo "<= $target")" "$wall_met" \
            "$rss_mb" "<= $T_QUERY_MB" "$(met "$rss_mb" "$T_QUERY_MB")" "$lines" "$qload"
    done <"$queries"
    echo
    f='%-40s %14s %10s %-14s %4s\n'
    printf "$f" "files and store after the first run" "total" "per task" "target" "met"
    per_inode=$(awk -v a="$inodes" -v n="$N" 'BEGIN { printf "%.2f", a / n }')
    printf "$f" "inodes in .labtrail" "$inodes" "$per_inode" "<= $T_INODES" "$(met "$per_inode" "$T_INODES")"
    printf "$f" "  of which folders" "$folders" "" "" ""
    printf "$f" "  of which empty files" "$empty_files" "" "" ""
    printf "$f" "store on disk (du), bytes" "$du_bytes" "$(b_per "$du_bytes" "$N")" "" ""
    printf "$f" "database file (+ WAL), bytes" "$db_bytes" "$(b_per "$db_bytes" "$N")" "" ""
    db_b=$(b_per "$dbstat_bytes" "$N")
    printf "$f" "database pages in use (dbstat), bytes" "$dbstat_bytes" "$db_b" "<= $T_DB_B_PER_TASK B" "$(met "$db_b" "$T_DB_B_PER_TASK")"
    if [ "$dbstat_bytes" != - ]; then
        while IFS='|' read -r name bytes; do
            printf "$f" "  $name" "$bytes" "$(b_per "$bytes" "$N")" "" ""
        done <"$tmp/dbstat"
    fi
    echo
    f='%-40s %10s %8s %5s %10s %8s %5s %9s\n'
    printf "$f" "plan" "wall (s)" "target" "met" "RSS (MB)" "target" "met" "load"
    plan_mb=$(mb "$plan_rss")
    printf "$f" "run --dry-run, $grid combinations" "$(s_of "$plan_wall")" "<= $T_PLAN_S" \
        "$(met "$(s_of "$plan_wall")" "$T_PLAN_S")" "$plan_mb" "<= $T_PLAN_MB" "$(met "$plan_mb" "$T_PLAN_MB")" "$plan_load"
    if [ -n "$poll_out" ]; then
        echo
        echo "SLURM monitor poll (cargo run --release --example poll_bench):"
        printf '%s\n' "$poll_out"
    fi
} >"$report"
cat "$report"
