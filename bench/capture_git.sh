#!/usr/bin/env bash
# What capturing the code (`provenance::git::capture`: rev-parse, describe, upstream, remote,
# a temporary index, write-tree, the patch) costs at run start, next to a bare `git status` on
# the same repository, taken in turns: on this repository and on a made-up one with 10^4
# tracked files (a few modified, a few untracked). Under a minute once built.
#
#   bash bench/capture_git.sh            # release build (the first build takes minutes)
#   PROFILE=dev bash bench/capture_git.sh  # the test build: git's processes are the cost anyway
#
# ROUNDS (default 15) captures and as many `git status` are timed per repository.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
files=${FILES:-10000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

big="$tmp/big"
mkdir -p "$big"
(
    cd "$big"
    git init -q -b main
    for d in $(seq 0 $((files / 100 - 1))); do
        mkdir "d$d"
        for f in $(seq 0 99); do
            echo "file $d/$f" > "d$d/f$f.txt"
        done
    done
    git add -A
    git -c user.name=bench -c user.email=bench@example.org commit -q -m "$files files"
    # A typical dirty state: a few edits, a deletion, a few new files.
    for d in 0 1 2; do echo "edit" >> "d$d/f0.txt"; done
    rm d3/f0.txt
    for n in 0 1 2; do echo "new $n" > "new$n.txt"; done
)
echo "made $big ($files tracked files)" >&2

profile=(--release)
[ "${PROFILE:-release}" = dev ] && profile=()
LABTRAIL_BENCH_REPOS="$root:$big" cargo test "${profile[@]}" --test provenance_git capture_time \
    -- --ignored --nocapture 2>&1 | grep -v '^$' | grep -v '^running\|^test result\|^test capture_time'
