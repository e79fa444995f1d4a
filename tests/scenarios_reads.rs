//! Issue 9: what the reading commands show after a runner was killed, which run they read, and
//! that values from the experiment never reach the terminal raw.

mod common;
use common::*;
use std::time::Duration;

/// Two tasks that say they started, then wait (a leftover of the killed runner, stopped by the
/// test at its end).
const WAITING: &str = r#"
[experiment]
name = "waits"
command = "touch started-{x}; sleep 120"
[params]
x = [1, 2]
[run]
workers = 2
"#;

/// Kills, when dropped (also when the test fails), what a killed runner left running.
struct Leftovers<'a>(&'a Exp);

impl Drop for Leftovers<'_> {
    fn drop(&mut self) {
        for pid in processes_of_store(&self.0.file(".labtrail")) {
            // SAFETY: kill(2) of a leftover task process of this test's own store.
            unsafe {
                libc::kill(pid as i32, libc::SIGKILL);
            }
        }
    }
}

/// Issue 9: after `kill -9` of the runner, `status`, `tasks` and `status --explain` say the
/// tasks were interrupted (runner gone), not "running" for ever; while the runner lives, they say
/// running. Reading changes nothing: the next `run` still finds the attempts open and records
/// them.
#[test]
fn a_killed_runner_leaves_interrupted_tasks_not_running_ones() {
    let exp = Exp::new(WAITING);
    let _leftovers = Leftovers(&exp);
    let child = exp.spawn(&["run", "exp.toml", "--no-progress"]);
    wait_until("both tasks started", Duration::from_secs(30), || {
        exp.file("started-1").exists() && exp.file("started-2").exists()
    });
    wait_until("both recorded running", Duration::from_secs(30), || {
        exp.count("running") == 2
    });
    let status = exp.run(&["status"]);
    assert!(status.stdout().contains("2 running"), "{}", status.stdout());

    signal(&child, libc::SIGKILL);
    let killed = finish(child);
    assert_eq!(killed.0.status.code(), None, "killed by a signal");

    let status = exp.run(&["status"]);
    assert_eq!(status.code(), 0, "{}", status.stderr());
    let text = status.stdout();
    assert!(text.contains("0/2 done, 2 interrupted"), "{text}");
    assert!(!text.contains("running"), "{text}");
    for t in exp.tasks() {
        assert_eq!(t["state"], "interrupted", "{t}");
        assert_eq!(t["reason"], "runner gone", "{t}");
    }
    let explain = exp.run(&["status", "--explain"]).stdout();
    assert_eq!(
        explain
            .matches("interrupted (runner gone); will run again")
            .count(),
        2,
        "{explain}"
    );
    assert!(!explain.contains("busy"), "{explain}");
    let attempts = exp.run(&["tasks", "x=1", "--attempts"]).stdout();
    assert!(attempts.contains("interrupted (runner gone)"), "{attempts}");

    let raw = rusqlite::Connection::open(exp.file(".labtrail/labtrail.db")).unwrap();
    let running: i64 = raw
        .query_row("SELECT COUNT(*) FROM tasks WHERE state = 'running'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(running, 2, "a read command does not change the store");
}
