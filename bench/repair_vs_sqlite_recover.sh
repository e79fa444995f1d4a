#!/usr/bin/env bash
# Rows recovered by `labtrail check --repair` side by side with SQLite's own recovery
# (`sqlite3 DB .recover`, the shell's front end to the sqlite3_recover extension), after the same
# damage to copies of one finished store.
#
#   bash bench/repair_vs_sqlite_recover.sh        # ~1 min; N=1000 for a larger store
#
# The damage is what tests/scenarios_repair.rs does (bytes overwritten with 0xA5): the 16-byte
# header, the first page, one page in the middle, the last page, five scattered pages. A row
# counts as recovered when its table holds it afterwards (SQLite's `.recover` puts rows it cannot
# place in `lost_and_found`, which is not counted for either tool). The ratio is labtrail's rows
# over sqlite3's: above 1, labtrail recovered more. Some builds of the shell cannot run `.recover`
# at all (Debian 12's 3.40.1 fails with "SQL logic error" on any database: it lacks the
# sqlite_dbpage table the extension reads pages through); the script then compares with
# `sqlite3 DB .dump | sqlite3 NEW`, the usual advice for a damaged database, and says so.
set -euo pipefail

N=${N:-300}
root=$(cd "$(dirname "$0")/.." && pwd)
command -v sqlite3 >/dev/null || {
    if [ "$(id -u)" = 0 ]; then apt-get install -y sqlite3 >/dev/null 2>&1 || true; fi
    command -v sqlite3 >/dev/null || { echo "needs the sqlite3 command line shell (apt-get install sqlite3)" >&2; exit 2; }
}
(cd "$root" && cargo build --release -q)
lt="$root/target/release/labtrail"
[ -n "${CARGO_TARGET_DIR:-}" ] && lt="$CARGO_TARGET_DIR/release/labtrail"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/template"
xs=$(seq -s, 1 "$N")
cat >"$tmp/template/task.sh" <<'EOF'
printf '{"x": %s}\n' "$1" > "$LABTRAIL_RESULT"
for i in 1 2 3; do printf '{"step": %s, "x": %s}\n' "$i" "$1" >> "$LABTRAIL_METRICS"; done
EOF
cat >"$tmp/template/exp.toml" <<EOF
[experiment]
name = "r"
command = "sh task.sh {x}"
[params]
x = [$xs]
EOF
(cd "$tmp/template" && "$lt" run exp.toml -q)
sqlite3 "$tmp/template/.labtrail/labtrail.db" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null

tables="runs tasks attempts events metrics"
count_rows() { # DB -> total rows of the tables above (0 for a table that is missing)
    local total=0 n
    for t in $tables; do
        n=$(sqlite3 "$1" "SELECT COUNT(*) FROM $t;" 2>/dev/null || echo 0)
        total=$((total + n))
    done
    echo "$total"
}
before=$(count_rows "$tmp/template/.labtrail/labtrail.db")
read -r size pages < <(sqlite3 "$tmp/template/.labtrail/labtrail.db" "SELECT page_size, page_count FROM pragma_page_size, pragma_page_count;" | tr '|' ' ')

scribble() { # FILE OFFSET LENGTH
    python3 - "$1" "$2" "$3" <<'PY'
import sys
path, at, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "r+b") as f:
    f.seek(at); f.write(b"\xa5" * n)
PY
}

peer=".recover"
if ! sqlite3 "$tmp/template/.labtrail/labtrail.db" .recover >/dev/null 2>&1; then
    echo "this sqlite3 ($(sqlite3 --version | cut -d' ' -f1)) cannot run .recover; comparing with .dump instead" >&2
    peer=".dump"
fi
echo "store of $N tasks: $pages pages of $size bytes, $before rows in: $tables"
printf '%-36s %12s %12s %8s\n' damage labtrail "sqlite3 $peer" ratio
trial() { # NAME then OFFSET:LENGTH pairs
    local name=$1; shift
    rm -rf "$tmp/a" "$tmp/b"
    cp -a "$tmp/template" "$tmp/a"
    for spot in "$@"; do scribble "$tmp/a/.labtrail/labtrail.db" "${spot%:*}" "${spot#*:}"; done
    cp -a "$tmp/a" "$tmp/b"
    (cd "$tmp/a" && "$lt" check --repair --yes >/dev/null 2>&1) || true
    local ours theirs
    ours=$(count_rows "$tmp/a/.labtrail/labtrail.db")
    sqlite3 "$tmp/b/.labtrail/labtrail.db" "$peer" 2>/dev/null | sqlite3 "$tmp/b/recovered.db" >/dev/null 2>&1 || true
    theirs=$(count_rows "$tmp/b/recovered.db")
    printf '%-36s %5d %5.1f%% %5d %5.1f%% %8s\n' "$name" "$ours" "$(echo "100*$ours/$before" | bc -l)" \
        "$theirs" "$(echo "100*$theirs/$before" | bc -l)" \
        "$( [ "$theirs" -gt 0 ] && printf '%.2f' "$(echo "$ours/$theirs" | bc -l)" || echo inf)"
}
trial "header (first 16 bytes)" 0:16
trial "the first page (header and schema)" "0:$size"
trial "one page in the middle" "$((size * (pages / 2))):$size"
trial "the last page" "$((size * (pages - 1))):$size"
trial "five scattered pages" $(for k in 1 2 3 4 5; do echo "$((size * (pages * k / 6))):$size"; done)
