//! Issue 15: `results --sort` of a large run sorts in a temporary database (a byte key per
//! row, SQLite's sorter spilling to temporary files) instead of holding a key and a cell per
//! task. `LABTRAIL_TEST_SORT_IN_MEMORY_ROWS=0` sends every sort there: what it prints must be
//! byte for byte what the in-memory sort and the loaded path print, for cells that are hard to
//! order (signed zeros, integers past 2^53, NaN, infinities, texts next to numbers, missing
//! cells, ties), in two stages and every format; and it must leave nothing behind.

mod common;
use common::*;
use labtrail::report::results::view::{self, Layout, Query};
use labtrail::report::results::Results;
use labtrail::store::Store;
use std::path::Path;

const EXP: &str = r#"
[experiment]
name = "spill"
[params]
i = { range = [0, 15] }
tag = ["p", "q"]
[[stage]]
name = "train"
command = "sh train.sh {i} {tag}"
[[stage]]
name = "report"
params = ["tag"]
command = "sh report.sh {tag}"
"#;

/// Each `i` writes a value of `x` that is hard to order; both tags write the same (ties).
const TRAIN: &str = r#"
r="$LABTRAIL_RESULT"
case "$1" in
0) echo '{"x": -0.0}' > "$r" ;;
1) echo '{"x": 0}' > "$r" ;;
2) echo '{"x": 9007199254740993}' > "$r" ;;
3) echo '{"x": 9007199254740992}' > "$r" ;;
4) echo '{"x": NaN}' > "$r" ;;
5) echo '{"x": "10"}' > "$r" ;;
6) echo '{"x": "a\u0000b", "y": "a"}' > "$r" ;;
7) echo '{"x": Infinity, "y": "ab"}' > "$r" ;;
8) echo '{"x": -Infinity, "y": ""}' > "$r" ;;
9) echo '{}' > "$r" ;;
10) echo '{"x": null, "y": 3}' > "$r" ;;
11) echo '{"x": 1e-320}' > "$r" ;;
12) echo '{"x": -1.5, "y": "only here"}' > "$r" ;;
13) echo 7 > "$r" ;;
14) echo '{"x": "a"}' > "$r" ;;
esac
"#;

fn ran() -> Exp {
    let exp = Exp::new(EXP);
    exp.write("train.sh", TRAIN);
    exp.write(
        "report.sh",
        r#"[ "$1" = p ] && echo '{"x": 2}' > "$LABTRAIL_RESULT"; exit 0"#,
    );
    exp.run_ok(&["run", "exp.toml", "--no-progress", "-q"]);
    exp
}

/// What the loaded path (the whole run in memory, `Table::order_by`) writes.
fn loaded(exp: &Exp, stage: Option<&str>, query: &Query, layout: Layout) -> String {
    let store = Store::open_read_only(&exp.path().join(".labtrail")).unwrap();
    let mut results = Results::load(&store, None).unwrap();
    if let Some(stage) = stage {
        results.only_stage(&store, stage).unwrap();
    }
    let mut out = Vec::new();
    view::write(&results, query, layout, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// The files under `dir`, sorted, with their sizes; SQLite's `-wal` and `-shm` files, which
/// any reader (this test's own [`loaded`]) may leave, are left out.
fn files(dir: &Path) -> Vec<(String, u64)> {
    let mut all = Vec::new();
    for e in walk(dir) {
        let name = e.display().to_string();
        if !name.ends_with("-wal") && !name.ends_with("-shm") {
            all.push((name, e.metadata().map_or(0, |m| m.len())));
        }
    }
    all.sort();
    all
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

#[test]
fn a_sort_spilled_to_a_temporary_database_prints_what_the_in_memory_sort_prints() {
    let exp = ran();
    let tmp = tempfile::tempdir().unwrap();
    let db = exp.path().join(".labtrail/labtrail.db");
    let (store_before, db_before) = (files(db.parent().unwrap()), std::fs::read(&db).unwrap());
    let formats = [
        ("csv", Layout::Csv),
        ("json", Layout::Json),
        ("jsonl", Layout::Jsonl),
        ("md", Layout::Markdown),
        ("table", Layout::Table(None)),
    ];
    for column in ["x", "y", "i", "tag", "stage", "result"] {
        for desc in [false, true] {
            for stage in [None, Some("train")] {
                for (format, layout) in formats {
                    let mut args = vec!["results", "--format", format, "--sort", column];
                    args.extend(desc.then_some("--desc"));
                    args.extend(stage.iter().flat_map(|s| ["--stage", *s]));
                    if column == "stage" && stage.is_some() {
                        continue;
                    }
                    let run = |rows: Option<&str>| {
                        let mut cmd = exp.cmd(&args);
                        cmd.env_remove("COLUMNS")
                            .env("TMPDIR", tmp.path())
                            .env("SQLITE_TMPDIR", tmp.path());
                        match rows {
                            Some(n) => cmd.env("LABTRAIL_TEST_SORT_IN_MEMORY_ROWS", n),
                            None => cmd.env_remove("LABTRAIL_TEST_SORT_IN_MEMORY_ROWS"),
                        };
                        let out = cmd.output().unwrap();
                        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
                        assert!(out.status.success(), "{args:?}: {stderr}");
                        (String::from_utf8(out.stdout).unwrap(), stderr)
                    };
                    let spilled = run(Some("0"));
                    let in_memory = run(None);
                    assert_eq!(spilled, in_memory, "{args:?}");
                    let query = Query {
                        sort: Some(column.to_string()),
                        desc,
                        ..Query::default()
                    };
                    assert_eq!(spilled.0, loaded(&exp, stage, &query, layout), "{args:?}");
                }
            }
        }
    }
    // Ties (both tags wrote the same x) and the hard values are in the fixture's output.
    let csv = exp.run_ok(&["results", "--format", "csv", "--sort", "x"]);
    assert!(csv.stdout().contains("-Infinity"), "{}", csv.stdout());
    // The temporary database is gone, and the store was not written to.
    assert_eq!(files(tmp.path()), vec![], "temporary files left");
    assert_eq!(files(db.parent().unwrap()), store_before);
    assert!(
        std::fs::read(&db).unwrap() == db_before,
        "the store's database changed"
    );
}
