//! bench/scale.sh in its quick mode: the benchmark of issue 15 keeps working as the code moves.

use std::path::Path;
use std::process::Command;

/// Issue 15: `N=200 bash bench/scale.sh` (the sizes lowered for a quick look) exits 0, prints
/// every row of its tables with a figure, and leaves nothing behind in $TMPDIR. It runs the
/// real binary on real files; the figures themselves are not asserted (timings are the
/// machine's), only that each was measured.
#[test]
fn scale_bench_quick_mode_prints_every_row() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/scale.sh");
    let out = Command::new("bash")
        .arg(&script)
        .env("N", "200")
        .env("GRID_SIDE", "10")
        .env("REPEAT", "1")
        .env("INSTALL", "0")
        .env("LABTRAIL_BIN", env!("CARGO_BIN_EXE_labtrail"))
        .env("TMPDIR", tmp.path())
        .env_remove("POLL")
        .output()
        .expect("run bash bench/scale.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "scale.sh failed: {:?}\n{stdout}\n{stderr}",
        out.status
    );
    let rows = [
        "first run, labtrail",
        "its peak RSS per task",
        "first run, xargs -P2 sh -c (same cmds)",
        "no-op resume (median of 1)",
        "status ",
        "status --json",
        "results --format csv",
        "results --format json ",
        "results --format jsonl",
        "results --format md",
        "results --sort i --desc (csv)",
        "tasks --json",
        "events --json",
        "list --json",
        "inodes in .labtrail",
        "store on disk (du), bytes",
        "database file (+ WAL), bytes",
        "database pages in use (dbstat), bytes",
        "run --dry-run, 1000 combinations",
    ];
    // Without GNU time or the sqlite3 CLI (INSTALL=0 installs neither) those figures are "-".
    let has_time = Path::new("/usr/bin/time").exists();
    let has_sqlite = Command::new("sqlite3").arg("-version").output().is_ok();
    for row in rows {
        let line = stdout
            .lines()
            .map(str::trim_start)
            .find(|l| l.starts_with(row))
            .unwrap_or_else(|| panic!("no row {row:?} in:\n{stdout}"));
        let needs = match row {
            "its peak RSS per task" => has_time,
            "database pages in use (dbstat), bytes" => has_sqlite,
            _ => true,
        };
        assert!(
            !needs || line[row.len()..].chars().any(|c| c.is_ascii_digit()),
            "row {row:?} has no figure: {line:?}"
        );
    }
    // The csv query printed a header and one line per task, as the script checked.
    let csv = stdout
        .lines()
        .find(|l| l.starts_with("results --format csv"))
        .unwrap();
    assert!(csv.contains(" 201 "), "{csv}");
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .expect("read TMPDIR")
        .collect();
    assert!(left.is_empty(), "scale.sh left {left:?} in TMPDIR");
}
