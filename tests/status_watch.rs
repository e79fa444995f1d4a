//! Issue 14: `labtrail status --watch` stops by itself when the run it watches has ended, with
//! the real binary, a real runner and real tasks.

mod common;
use common::{wait_until, Exp};
use std::process::Child;
use std::time::Duration;

/// Tasks wait for the file `go`; the one with x=3 fails when `FAIL` is there.
const EXP: &str = r#"
[experiment]
name = "watched"
command = "sh -c 'echo {x} >> started.txt; while [ ! -f go ]; do sleep 0.05; done; if [ {x} = 3 ] && [ -f FAIL ]; then exit 1; fi'"
[params]
x = [1, 2, 3]
[run]
workers = 3
"#;

/// Waits (60 s at most) for `child` to exit by itself and returns its exit code and stdout.
fn exits_by_itself(mut child: Child) -> (i32, String) {
    let mut status = None;
    let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_until("status --watch to exit", Duration::from_secs(60), || {
            status = child.try_wait().expect("try_wait");
            status.is_some()
        })
    }));
    if waited.is_err() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("status --watch kept watching a run that had ended");
    }
    let out = common::finish(child);
    (out.code(), out.stdout())
}

/// Starts a run, waits until all its tasks are running, starts `status --watch`, lets the
/// tasks finish, and returns the watch's exit code and output, with the runner's exit code.
fn watch_a_run(exp: &Exp) -> (i32, String, i32) {
    let runner = exp.spawn(&["run", "exp.toml", "--no-progress"]);
    wait_until("three running tasks", Duration::from_secs(60), || {
        exp.ledger("started.txt").len() == 3
    });
    let watch = exp.spawn(&["status", "--watch", "0.2"]);
    std::thread::sleep(Duration::from_millis(300)); // not a timing assertion: lets it refresh once
    exp.write("go", "");
    let run_code = common::finish(runner).code();
    let (code, out) = exits_by_itself(watch);
    (code, out, run_code)
}

/// Issue 14: the watch ends with the run, exit 0 when every task is done.
#[test]
fn watch_exits_0_when_the_run_it_watches_finishes() {
    let exp = Exp::new(EXP);
    let (code, out, run_code) = watch_a_run(&exp);
    assert_eq!(run_code, 0);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("run watched-") && out.contains("has finished: all 3 tasks done"),
        "{out}"
    );
}

/// Issue 14: a run that ends with a failed task ends the watch with exit 1.
#[test]
fn watch_exits_1_when_a_task_failed() {
    let exp = Exp::new(EXP);
    exp.write("FAIL", "");
    let (code, out, run_code) = watch_a_run(&exp);
    assert_eq!(run_code, 1);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("has finished: 1 failed, 0 blocked"), "{out}");
}

/// Issue 14: a run nobody runs, with tasks left (a slice of it was run), ends the watch at
/// once: nothing would ever change what it shows.
#[test]
fn watch_exits_1_at_once_on_a_run_with_no_runner() {
    let exp = Exp::new(EXP);
    exp.write("go", "");
    exp.run_ok(&["run", "exp.toml", "--no-progress", "--only", "x=1"]);
    let watch = exp.spawn(&["status", "--watch", "0.2"]);
    let (code, out) = exits_by_itself(watch);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("is not running: 2 task(s) not done"), "{out}");
}

/// Issue 14 (review): `--watch inf` (or `1e30`, `nan`) is a usage error; it used to panic at its
/// first sleep on a run under way.
#[test]
fn a_watch_interval_that_is_no_number_of_seconds_is_refused() {
    let exp = Exp::new(EXP);
    let runner = exp.spawn(&["run", "exp.toml", "--no-progress"]);
    wait_until("three running tasks", Duration::from_secs(60), || {
        exp.ledger("started.txt").len() == 3
    });
    // On a run under way (where `inf` and `1e30` panicked at the first sleep) ...
    let mut outs: Vec<(&str, common::Out)> = ["inf", "1e30"]
        .into_iter()
        .map(|secs| (secs, exp.run(&["status", &format!("--watch={secs}")])))
        .collect();
    // ... which ends before anything is asserted, so that a failure leaves no runner behind;
    // `nan` (which watched on every 0.2 s) and `-1` are tried on the ended run.
    exp.write("go", "");
    assert_eq!(common::finish(runner).code(), 0);
    for secs in ["nan", "-1"] {
        outs.push((secs, exp.run(&["status", &format!("--watch={secs}")])));
    }
    for (secs, out) in outs {
        assert_eq!(out.code(), 2, "--watch {secs}: {}", out.stderr());
        assert!(
            out.stderr().contains("give the seconds between refreshes"),
            "{}",
            out.stderr()
        );
    }
}
