//! Issue 10 (review): a store in rollback-journal mode (a network filesystem) whose writer was
//! killed mid-commit, leaving a hot `labtrail.db-journal`. The last committed state is what every
//! command must see: reads roll the journal back (or, where they cannot write, say that a writing
//! command must run first), and `check --repair` rolls it back before judging the database.
//! The hot journal is made for real: a child process changes every task in one transaction with
//! a one-page cache (so the changed pages reach the database file) and exits without committing.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

const TASKS: usize = 200;

/// A finished run of `TASKS` tasks in a store in rollback mode.
fn finished_in_rollback_mode() -> Exp {
    let values: Vec<String> = (1..=TASKS).map(|i| i.to_string()).collect();
    let exp = Exp::new(&format!(
        "[experiment]\nname = \"hot\"\ncommand = \"true {{x}}\"\n[params]\nx = [{}]\n",
        values.join(", ")
    ));
    let out = Out(exp
        .cmd(&["run", "exp.toml", "-q", "--no-progress"])
        .env("LABTRAIL_STORE_FS", "network")
        .stdin(Stdio::null())
        .output()
        .unwrap());
    assert_eq!(out.code(), 0, "{}", out.stderr());
    exp
}

fn db(exp: &Exp) -> PathBuf {
    exp.file(".labtrail/labtrail.db")
}

fn journal(exp: &Exp) -> PathBuf {
    exp.file(".labtrail/labtrail.db-journal")
}

/// A writer killed mid-commit: every task marked failed in a transaction that never commits.
fn leave_hot_journal(exp: &Exp) {
    let script = r#"
import os, sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("PRAGMA journal_mode=DELETE")
c.execute("PRAGMA cache_size=1")
c.execute("BEGIN IMMEDIATE")
c.execute("UPDATE tasks SET state = 'failed', result = NULL")
c.execute("DELETE FROM attempts")
os._exit(0)
"#;
    let status = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(db(exp))
        .status()
        .expect("python3");
    assert!(status.success());
    let len = std::fs::metadata(journal(exp)).map_or(0, |m| m.len());
    assert!(len > 0, "the killed writer left a hot journal");
}

/// Done tasks in the committed state, read by SQLite itself from a copy (which rolls back a
/// journal copied along with it, never touching the store).
fn done(exp: &Exp) -> usize {
    done_in_db(&exp.file(".labtrail"))
}

fn damaged_copies(exp: &Exp) -> Vec<String> {
    std::fs::read_dir(exp.file(".labtrail"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.contains("damaged") || n.contains("before-repair"))
        .collect()
}

/// Issue 10 (review): `status` on a store with a hot journal said "damaged", kept a copy and
/// advised a repair (read-only open, then `immutable=1`, which ignores the journal). A reading
/// command that can write the folder rolls the journal back, as any SQLite open would, and
/// shows the last committed state.
#[test]
fn a_read_rolls_back_a_hot_journal_and_shows_what_was_committed() {
    let exp = finished_in_rollback_mode();
    leave_hot_journal(&exp);
    let out = exp.run(&["status"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(!out.stderr().contains("damaged"), "{}", out.stderr());
    assert!(
        damaged_copies(&exp).is_empty(),
        "{:?}",
        damaged_copies(&exp)
    );
    assert!(
        out.stdout().contains(&format!("{TASKS}/{TASKS} done")),
        "{}",
        out.stdout()
    );
    assert!(!journal(&exp).exists(), "rolled back");
    assert_eq!(done(&exp), TASKS);
    exp.run_ok(&["check"]);
}

/// Issue 10 (review): where the reader cannot write the store folder, it cannot roll the journal
/// back; it says a writing command must run first (exit 3), never that the store is damaged,
/// and never reads the half-written file as if it were committed.
#[test]
fn a_read_that_cannot_roll_back_says_a_writer_must_run_first() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to run a command as another user");
        return;
    }
    let exp = finished_in_rollback_mode();
    leave_hot_journal(&exp);
    for p in [exp.path().to_path_buf(), exp.file(".labtrail")] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = Out(Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_labtrail"))
        .args(["status", "--store"])
        .arg(exp.file(".labtrail"))
        .current_dir("/")
        .env_remove("LABTRAIL_STORE")
        .env("HOME", "/")
        .stdin(Stdio::null())
        .output()
        .unwrap());
    assert_eq!(out.code(), 3, "{}{}", out.stdout(), out.stderr());
    let err = out.stderr();
    assert!(!err.contains("is damaged"), "{err}");
    assert!(
        err.contains("stopped in the middle of a change") && err.contains("labtrail run"),
        "{err}"
    );
    assert!(journal(&exp).exists(), "the journal is left for a writer");
    assert!(
        damaged_copies(&exp).is_empty(),
        "{:?}",
        damaged_copies(&exp)
    );
    exp.run_ok(&["status"]);
    assert_eq!(done(&exp), TASKS);
}

/// Issue 10 (review): `check --repair` called a store with a hot journal damaged, did not ask,
/// rebuilt it from the half-written file (uncommitted changes appeared, committed attempts were
/// lost) and deleted the journal. The journal is rolled back first: the store is healthy, so
/// without --yes nothing is rebuilt.
#[test]
fn a_repair_rolls_back_a_hot_journal_before_judging_the_store() {
    let exp = finished_in_rollback_mode();
    leave_hot_journal(&exp);
    let out = exp.run(&["check", "--repair"]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(out.stderr().contains("is healthy"), "{}", out.stderr());
    assert!(
        damaged_copies(&exp).is_empty(),
        "{:?}",
        damaged_copies(&exp)
    );
    assert!(!journal(&exp).exists());
    assert_eq!(done(&exp), TASKS);
}

/// Issue 10 (review): a rebuild with --yes of a store with a hot journal gave "0/200 done,
/// 200 failed" (uncommitted changes read as committed, 200 attempts lost): it rebuilds from
/// the last committed state.
#[test]
fn a_forced_repair_of_a_store_with_a_hot_journal_keeps_what_was_committed() {
    let exp = finished_in_rollback_mode();
    leave_hot_journal(&exp);
    let out = exp.run(&["check", "--repair", "--yes"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_eq!(done(&exp), TASKS);
    let attempts: Vec<i64> = exp.column("SELECT count(*) FROM attempts");
    assert_eq!(attempts, vec![TASKS as i64]);
    exp.run_ok(&["check"]);
}
