//! A store another process writes for longer than the busy timeout: runners wait for it, and
//! never die of "database is locked" (issue 10, review). `LABTRAIL_TEST_BUSY_TIMEOUT_MS`
//! shortens the 10 s timeout, for tests only.

mod common;
use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

/// `n` tasks, each appending its number to `ledger.txt` after a short pause.
fn grid(n: usize) -> String {
    let values: Vec<String> = (1..=n).map(|i| i.to_string()).collect();
    format!(
        "[experiment]\nname = \"grid\"\ncommand = \"sleep 0.2; echo {{i}} >> ledger.txt\"\n[params]\ni = [{}]\n[run]\nworkers = 1\n",
        values.join(", ")
    )
}

/// Issue 10 (review): while another process held the store's write lock longer than the busy
/// timeout (a large run being created), every runner of the store died with exit 3 "database
/// is locked", and its tasks with it. Now the runner says once that it waits, waits, and
/// finishes its run. The lock is held by a real process (python3's sqlite3, `BEGIN IMMEDIATE`).
#[test]
fn a_runner_waits_out_a_write_lock_held_past_the_busy_timeout() {
    let exp = Exp::new(&grid(6));
    let runner = exp
        .cmd(&["run", "exp.toml", "--no-progress"])
        .env("LABTRAIL_TEST_BUSY_TIMEOUT_MS", "200")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("a task done", Duration::from_secs(60), || {
        !exp.ledger("ledger.txt").is_empty()
    });
    let script = "import sqlite3, sys, time\nc = sqlite3.connect(sys.argv[1], isolation_level=None)\nc.execute('BEGIN IMMEDIATE')\nprint('held', flush=True)\ntime.sleep(2)\nc.execute('COMMIT')\n";
    let mut holder = Command::new("python3")
        .args(["-c", script])
        .arg(exp.file(".labtrail/labtrail.db"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "held");
    assert!(holder.wait().unwrap().success());
    let out = finish(runner);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr()
            .contains("waiting for another labtrail process's write"),
        "{}",
        out.stderr()
    );
    assert_eq!(exp.count("done"), 6);
}

/// Issue 10 (review): two `labtrail run exp.toml` moments apart on a new store: the second
/// waited for the first's creation of a large run only as long as the busy timeout and died
/// with exit 3 "database is locked". Now it waits, then finds the run the first made, locked
/// (exit 4) or done (exit 0).
///
/// The seconds a large grid takes to write are stood in for by a pause inside the first one's
/// creation transaction (`LABTRAIL_FAULT=pause:sync-plan`, fault injection), held until the
/// second says it waits.
#[test]
fn the_second_of_two_runners_waits_for_the_first_ones_new_run_paused_by_fault_injection() {
    let exp = Exp::new(&grid(3));
    let (first, gate) = exp.spawn_paused_at(
        "sync-plan",
        &["run", "exp.toml", "--no-progress"],
        &[("LABTRAIL_TEST_BUSY_TIMEOUT_MS", "200")],
    );
    let said = std::fs::File::create(exp.file("second.err")).unwrap();
    let second = exp
        .cmd(&["run", "exp.toml", "--no-progress"])
        .env("LABTRAIL_TEST_BUSY_TIMEOUT_MS", "200")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(said)
        .spawn()
        .unwrap();
    wait_until("the second one waiting", Duration::from_secs(60), || {
        std::fs::read_to_string(exp.file("second.err"))
            .is_ok_and(|t| t.contains("waiting for another labtrail process's write"))
    });
    std::fs::write(&gate, "").unwrap();
    let out = finish(first);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let code = finish(second).code();
    let said = std::fs::read_to_string(exp.file("second.err")).unwrap();
    assert!(code == 4 || code == 0, "{code}: {said}");
    assert_eq!(exp.column::<String>("SELECT id FROM runs").len(), 1);
    assert_eq!(exp.ledger("ledger.txt").len(), 3, "each task once");
}
