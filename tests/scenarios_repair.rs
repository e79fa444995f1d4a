//! Issue 10, items 1 and 2: `check --repair` is atomic, never destructive, locked against
//! runners, asks before rebuilding a healthy store, and recovers every row of every undamaged
//! page.

mod common;
use common::*;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

const TABLES: [&str; 8] = [
    "runs",
    "tasks",
    "attempts",
    "events",
    "metrics",
    "records",
    "input_digests",
    "blobs",
];

/// A finished run of `n` tasks, each with a result and three metric lines, its WAL folded into
/// the database file (so that damage to the file is damage to the data).
fn finished(n: usize) -> Exp {
    let xs: Vec<String> = (1..=n).map(|x| x.to_string()).collect();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "r"
command = "echo '{{\"x\": {{x}}}}' > $LABTRAIL_RESULT; for i in 1 2 3; do echo \"{{\\\"step\\\": $i, \\\"x\\\": {{x}}}}\" >> $LABTRAIL_METRICS; done"
[params]
x = [{}]
"#,
        xs.join(", ")
    ));
    exp.run_ok(&["run", "exp.toml", "-q"]);
    let conn = rusqlite::Connection::open(exp.file(".labtrail/labtrail.db")).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    exp
}

/// A copy of the experiment folder `from` (its store included), to damage on its own.
fn copy_of(from: &Exp) -> Exp {
    let exp = Exp {
        dir: tempfile::tempdir().unwrap(),
    };
    let ok = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", from.path().display()))
        .arg(exp.path())
        .status()
        .unwrap();
    assert!(ok.success());
    exp
}

fn page_size_and_count(db: &Path) -> (u64, u64) {
    let c = rusqlite::Connection::open(db).unwrap();
    let size: u64 = c.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
    (size, std::fs::metadata(db).unwrap().len() / size)
}

/// Overwrites `len` bytes of the database at `at` with 0xA5.
fn scribble(db: &Path, at: u64, len: usize) {
    let mut f = std::fs::OpenOptions::new().write(true).open(db).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(&vec![0xA5; len]).unwrap();
    f.sync_all().unwrap();
}

/// The files where repairs kept the damaged database (their WALs left out).
fn kept(exp: &Exp) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(exp.file(".labtrail"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("labtrail.db.before-repair-") && !name.ends_with("-wal")
        })
        .collect();
    out.sort();
    out
}

fn rows(db: &Path, table: &str) -> u64 {
    let c = rusqlite::Connection::open(db).unwrap();
    c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

/// A kind of damage: its name, the spans (offset, length) scribbled over, and the least
/// fraction of rows a repair must recover after it.
type Damage<'a> = (&'a str, Vec<(u64, usize)>, f64);

/// Rows of `table` a repair recovered: those in the table, and those it set aside as records
/// (attempts of a lost task, metric lines of a lost attempt: the next run numbers its attempts
/// from 1 again), which are not counted as records.
fn recovered(db: &Path, table: &str) -> u64 {
    let c = rusqlite::Connection::open(db).unwrap();
    let count = |sql: &str| c.query_row(sql, [], |r| r.get::<_, u64>(0)).unwrap();
    let aside = "kind IN ('repair_attempt_of_lost_task', 'repair_metric_of_lost_attempt')";
    match table {
        "attempts" => count("SELECT (SELECT COUNT(*) FROM attempts) + (SELECT COUNT(*) FROM records WHERE kind = 'repair_attempt_of_lost_task')"),
        "metrics" => count("SELECT (SELECT COUNT(*) FROM metrics) + (SELECT COUNT(*) FROM records WHERE kind = 'repair_metric_of_lost_attempt')"),
        "records" => count(&format!("SELECT COUNT(*) FROM records WHERE NOT {aside}")),
        t => count(&format!("SELECT COUNT(*) FROM {t}")),
    }
}

/// 20 finished tasks, one page in the middle of the file scribbled over.
fn damaged() -> Exp {
    let exp = finished(20);
    let db = exp.file(".labtrail/labtrail.db");
    let (size, count) = page_size_and_count(&db);
    scribble(&db, size * (count / 2), size as usize);
    assert_eq!(exp.run(&["status"]).code(), 3, "the damage is seen");
    exp
}

/// Issue 10: a repair killed between any two of its steps leaves either the damaged store
/// (still reported damaged, its copy intact) or the whole new one, never a half-built store
/// that reads as healthy; no copy of the damaged database is ever overwritten, and a repair
/// run after the crash finishes the job.
#[test]
fn a_repair_killed_at_any_step_leaves_the_old_store_or_the_whole_new_one() {
    let template = damaged();
    let original = std::fs::read(template.file(".labtrail/labtrail.db")).unwrap();
    let whole = copy_of(&template);
    whole.run_ok(&["check", "--repair"]);
    let tasks_of_whole = whole.tasks();
    assert_eq!(tasks_of_whole.len(), 20);
    for point in [
        "repair-after-intent",
        "repair-after-backup",
        "repair-mid-build",
        "repair-after-build",
        "repair-after-built",
        "repair-before-swap",
        "repair-after-swap",
    ] {
        let exp = copy_of(&template);
        let killed = exp
            .cmd(&["check", "--repair"])
            .env("LABTRAIL_FAULT", point)
            .output()
            .unwrap();
        assert_eq!(killed.status.code(), None, "{point}: aborted there");
        let status = exp.run(&["status"]);
        match status.code() {
            0 => assert_eq!(exp.tasks(), tasks_of_whole, "{point}: the whole new store"),
            3 => assert!(
                status.stderr().contains("is damaged"),
                "{point}: {}",
                status.stderr()
            ),
            c => panic!("{point}: status exited {c}: {}", status.stderr()),
        }
        for leftover in [
            "labtrail.db.repair-new",
            "labtrail.db.repair-source",
            "locks/repair.json",
        ] {
            assert!(
                !exp.file(&format!(".labtrail/{leftover}")).exists(),
                "{point}: {leftover} settled"
            );
        }
        for copy in kept(&exp) {
            assert_eq!(
                std::fs::read(&copy).unwrap(),
                original,
                "{point}: {} is the damaged file",
                copy.display()
            );
        }
        if status.code() == 3 {
            exp.run_ok(&["check", "--repair"]);
        }
        exp.run_ok(&["check"]);
        assert_eq!(exp.tasks(), tasks_of_whole, "{point}: repaired in the end");
        assert!(
            kept(&exp)
                .iter()
                .any(|c| std::fs::read(c).unwrap() == original),
            "{point}: the damaged file is kept"
        );
    }
}

/// Issue 10: two repairs in the same second keep two copies; the first, of the damaged
/// database, is not renamed over by the second.
#[test]
fn two_repairs_in_a_row_keep_both_copies() {
    let exp = damaged();
    let original = std::fs::read(exp.file(".labtrail/labtrail.db")).unwrap();
    exp.run_ok(&["check", "--repair"]);
    exp.run_ok(&["check", "--repair", "--yes"]);
    let copies = kept(&exp);
    assert_eq!(copies.len(), 2, "{copies:?}");
    assert!(
        copies.iter().any(|c| std::fs::read(c).unwrap() == original),
        "{copies:?}"
    );
}

/// Issue 10: a healthy store is not rebuilt without a terminal to ask at, unless --yes says so.
#[test]
fn a_healthy_store_is_rebuilt_only_with_yes() {
    let exp = finished(3);
    let out = exp.run(&["check", "--repair"]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(
        out.stderr().contains("is healthy") && out.stderr().contains("--yes"),
        "{}",
        out.stderr()
    );
    assert!(kept(&exp).is_empty(), "nothing was changed");
    exp.run_ok(&["check", "--repair", "--yes"]);
    assert_eq!(kept(&exp).len(), 1);
    exp.run_ok(&["check"]);
}

/// Issue 10: a repair refuses while a runner holds a run of the store, naming the run and the
/// runner (it used to rename the live database from under it).
#[test]
fn a_repair_refuses_while_a_runner_holds_a_run() {
    let exp = Exp::new(
        "[experiment]\nname = \"long\"\ncommand = \"touch started; sleep 60\"\n[params]\nx = [1]\n",
    );
    let runner = exp.spawn(&["run", "exp.toml", "--no-progress"]);
    wait_until("the task starts", Duration::from_secs(60), || {
        exp.file("started").exists()
    });
    let out = exp.run(&["check", "--repair", "--yes"]);
    let run = exp
        .run_dir()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let pid = runner.id();
    signal(&runner, libc::SIGTERM);
    finish(runner);
    assert_eq!(out.code(), 4, "{}", out.stderr());
    let err = out.stderr();
    assert!(
        err.contains(&format!("run `{run}` is being run by PID {pid} on host ")),
        "{err}"
    );
    assert!(err.contains("nothing was changed"), "{err}");
    assert!(kept(&exp).is_empty());
}

/// Issue 10: the fraction of rows recovered after each kind of damage, printed (the README
/// records it), with lower bounds; the repaired store passes `check` at once and after the next
/// run resumes it.
#[test]
fn recovery_fractions_after_each_kind_of_damage() {
    let template = finished(300);
    let db = template.file(".labtrail/labtrail.db");
    let before: Vec<u64> = TABLES.iter().map(|t| rows(&db, t)).collect();
    let (size, count) = page_size_and_count(&db);
    let damages: [Damage; 5] = [
        ("header (first 16 bytes)", vec![(0, 16)], 1.0),
        (
            "one page in the middle",
            vec![(size * (count / 2), size as usize)],
            0.95,
        ),
        (
            "the last page",
            vec![(size * (count - 1), size as usize)],
            0.95,
        ),
        (
            "the first page (header and schema)",
            vec![(0, size as usize)],
            0.95,
        ),
        (
            "five scattered pages",
            (1..=5)
                .map(|k| (size * (count * k / 6), size as usize))
                .collect(),
            0.85,
        ),
    ];
    println!("store of 300 tasks: {count} pages of {size} bytes; rows {before:?} ({TABLES:?})");
    for (what, spots, lower_bound) in damages {
        let exp = copy_of(&template);
        let db = exp.file(".labtrail/labtrail.db");
        for (at, len) in spots {
            scribble(&db, at, len);
        }
        let out = exp.run(&["check", "--repair"]);
        assert_eq!(out.code(), 0, "{what}: {}{}", out.stdout(), out.stderr());
        let after: Vec<u64> = TABLES.iter().map(|t| recovered(&db, t)).collect();
        let per_table: Vec<String> = TABLES
            .iter()
            .zip(before.iter().zip(&after))
            .filter(|(_, (b, _))| **b > 0)
            .map(|(t, (b, a))| format!("{t} {a}/{b}"))
            .collect();
        // Rows a repair sets aside into `records` (attempts of lost tasks) are not counted twice.
        let kept_rows: u64 = before.iter().zip(&after).map(|(b, a)| (*a).min(*b)).sum();
        let total = kept_rows as f64 / before.iter().sum::<u64>() as f64;
        println!(
            "{what}: {:.1}% of all rows recovered ({})",
            total * 100.0,
            per_table.join(", ")
        );
        assert!(
            total >= lower_bound,
            "{what}: {total} < {lower_bound}\n{}",
            out.stdout()
        );
        if lower_bound == 1.0 {
            assert_eq!(after, before, "{what}: every row of every table");
        }
        exp.run_ok(&["check"]);
        exp.run_ok(&["run", "exp.toml", "-q"]);
        exp.run_ok(&["check"]);
        assert_eq!(
            exp.count("done"),
            300,
            "{what}: the resumed run finished every task"
        );
    }
}

/// Issue 10: the damaged database's WAL is read into the rebuild (its committed transactions are
/// recovered) and kept with the copy, and never applied to the new database.
#[test]
fn the_old_wal_is_recovered_from_and_never_applied_to_the_new_database() {
    let exp = finished(20);
    let db = exp.file(".labtrail/labtrail.db");
    let (size, count) = page_size_and_count(&db);
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    for i in 0..5 {
        conn.execute(
            "INSERT INTO records (run_id, at, kind, json) VALUES (NULL, 't', 'in-the-wal', ?1)",
            [format!("{{\"i\":{i}}}")],
        )
        .unwrap();
    }
    // Left open, never closed: its WAL stays as a process that died would leave it.
    // The damage: a page the WAL holds no newer copy of (the events table's root; the middle
    // page of the file moves as the schema grows, and may be one the WAL covers).
    let events: u64 = conn
        .query_row(
            "SELECT rootpage FROM sqlite_schema WHERE name = 'events'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    std::mem::forget(conn);
    let wal = exp.file(".labtrail/labtrail.db-wal");
    assert!(std::fs::metadata(&wal).unwrap().len() > 0);
    assert!(events < count);
    scribble(&db, size * (events - 1), size as usize);
    let old_wal = std::fs::read(&wal).unwrap();
    let out = exp.run(&["check", "--repair"]);
    assert_eq!(out.code(), 0, "{}{}", out.stdout(), out.stderr());
    let copy = kept(&exp).pop().unwrap();
    let copy_wal = PathBuf::from(format!("{}-wal", copy.display()));
    assert_eq!(
        std::fs::read(copy_wal).unwrap(),
        old_wal,
        "the WAL is kept with the copy"
    );
    // Nothing of the old WAL is left beside the new database for SQLite to replay into it
    // (it would apply the old file's pages over the new file's).
    assert!(
        std::fs::read(&wal).map_or(true, |w| w.is_empty()),
        "the old WAL was left beside the new database"
    );
    exp.run_ok(&["check"]);
    let in_wal: Vec<String> =
        exp.column("SELECT json FROM records WHERE kind = 'in-the-wal' ORDER BY id");
    assert_eq!(in_wal.len(), 5, "{}", out.stdout());
}

/// Issue 10: at a terminal (a real one, made by util-linux's `script`), a repair of a healthy
/// store asks first; "no" changes nothing, "y" rebuilds it.
#[test]
fn at_a_terminal_a_repair_of_a_healthy_store_asks_first() {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let exp = finished(2);
    let answer = |text: &str| -> Option<String> {
        let line = format!("'{}' check --repair", env!("CARGO_BIN_EXE_labtrail"));
        let mut child = Command::new("script")
            .args(["-qec", &line, "/dev/null"])
            .current_dir(exp.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .ok()?;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{text}\n").as_bytes())
            .unwrap();
        let out = finish(child);
        assert_eq!(out.code(), 0, "{}{}", out.stdout(), out.stderr());
        Some(out.stdout())
    };
    let Some(no) = answer("n") else {
        eprintln!("no `script` (util-linux) here to make a terminal: not tested");
        return;
    };
    assert!(
        no.contains("is healthy") && no.contains("rebuild it anyway? [y/N]"),
        "{no}"
    );
    assert!(no.contains("nothing was changed"), "{no}");
    assert!(kept(&exp).is_empty(), "{no}");
    let yes = answer("y").unwrap();
    assert!(
        yes.contains("kept the previous (healthy) database at"),
        "{yes}"
    );
    assert_eq!(kept(&exp).len(), 1);
    exp.run_ok(&["check"]);
}
