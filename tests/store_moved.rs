//! The store folder moved away (or its database lost) around a runner's start: nothing is made
//! again at the old path, no task starts, and the error says what happened (issue 10, review).

mod common;
use common::*;

/// Three tasks, each appending its number to `ledger.txt` in the experiment folder.
const GRID: &str = "[experiment]\nname = \"grid\"\ncommand = \"echo {i} >> ledger.txt\"\n[params]\ni = [1, 2, 3]\n[run]\nworkers = 2\n";

/// Issue 10 (review): `mv .labtrail elsewhere` while a runner starts up. The runner made the
/// run's folders again at the old path (`create_dir_all`), started its tasks there and only
/// noticed at its first commit ("the file was deleted"). Now nothing is made at the old path, no
/// task starts, it says the store was moved, and exits 3.
///
/// The instant between the run's creation and its first task cannot be hit reliably by a real
/// `mv`: the runner pauses there by fault injection (`LABTRAIL_FAULT=pause:runner-start`, debug
/// builds only), and the test moves the store while it waits.
#[test]
fn a_store_moved_while_the_runner_starts_is_not_rebuilt_paused_by_fault_injection() {
    let exp = Exp::new(GRID);
    let (runner, gate) =
        exp.spawn_paused_at("runner-start", &["run", "exp.toml", "--no-progress"], &[]);
    let moved = exp.file("moved");
    std::fs::rename(exp.file(".labtrail"), &moved).unwrap();
    std::fs::write(&gate, "").unwrap();
    let out = finish(runner);
    assert_eq!(out.code(), 3, "{}", out.stderr());
    assert!(
        out.stderr().contains("the store folder was moved to"),
        "{}",
        out.stderr()
    );
    assert!(!exp.file(".labtrail").exists(), "rebuilt at the old path");
    assert!(!exp.file("ledger.txt").exists(), "a task started");
    assert!(!out.stderr().contains("panicked"), "{}", out.stderr());
}

/// Issue 10 (review): a store folder that has runs but lost its database (deleted, or moved
/// without the folder) silently got a new empty one, and every run seemed gone. Now `run`
/// refuses, as for an empty database in a store with runs, and writes nothing.
#[test]
fn a_store_with_runs_but_no_database_is_refused() {
    let exp = Exp::new(GRID);
    exp.run_ok(&["run", "exp.toml", "-q"]);
    let store = exp.file(".labtrail");
    for f in ["labtrail.db", "labtrail.db-wal", "labtrail.db-shm"] {
        let _ = std::fs::remove_file(store.join(f));
    }
    let out = exp.run(&["run", "exp.toml", "--fresh", "-q"]);
    assert_eq!(out.code(), 3, "{}", out.stderr());
    assert!(out.stderr().contains("no database"), "{}", out.stderr());
    assert!(!store.join("labtrail.db").exists(), "a new empty database");
}

/// Issue 10 (review): Ctrl+C while a new run is created (the plan of a large grid is written
/// in one transaction, several seconds) was lost: the run then started anyway. Now the run is
/// created, and stopped before any task starts: exit 130, the run kept with every task pending.
///
/// The signal is a real SIGINT; the seconds a large grid takes are stood in for by a pause
/// inside the creation transaction (`LABTRAIL_FAULT=pause:sync-plan`, fault injection).
#[test]
fn ctrl_c_while_a_run_is_created_stops_it_before_any_task_paused_by_fault_injection() {
    let exp = Exp::new(GRID);
    let (runner, gate) =
        exp.spawn_paused_at("sync-plan", &["run", "exp.toml", "--no-progress"], &[]);
    let pid = nix::unistd::Pid::from_raw(runner.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    std::fs::write(&gate, "").unwrap();
    let out = finish(runner);
    assert_eq!(out.code(), 130, "{}", out.stderr());
    assert!(!exp.file("ledger.txt").exists(), "a task started");
    assert_eq!(exp.column::<String>("SELECT id FROM runs").len(), 1);
    assert_eq!(exp.count("pending"), 3, "{}", out.stderr());
}
