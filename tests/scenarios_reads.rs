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
    let list = exp.run(&["list", "--json"]).stdout();
    assert!(
        list.contains(r#""running": 0"#) && list.contains(r#""interrupted": 2"#),
        "{list}"
    );
    // Following the log of an attempt whose runner is gone ends: nothing will write more.
    let mut follow = exp.spawn(&["logs", "x=1", "--follow"]);
    let ended = (0..1500).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        follow.try_wait().unwrap().is_some()
    });
    if !ended {
        let _ = follow.kill();
    }
    assert!(ended, "logs --follow ended within 30 s");

    let raw = rusqlite::Connection::open(exp.file(".labtrail/labtrail.db")).unwrap();
    let running: i64 = raw
        .query_row(
            "SELECT COUNT(*) FROM tasks WHERE state = 'running'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(running, 2, "a read command does not change the store");
}

/// A value that would clear the screen, reverse the text after it and forge a `✓` line.
const EVIL: &str = r#"
[experiment]
name = "evil"
command = "echo {x}; test {x} = plain"
[params]
x = ["a\u001b[2J\u202ex\n✓ fake", "plain"]
"#;

/// How the value reads once escaped.
const ESCAPED: &str = r"a\u{1b}[2J\u{202e}x\n✓ fake";

/// Asserts that `text` carries the value only escaped.
fn only_escaped(what: &str, text: &str) {
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{202e}'),
        "{what}: a raw control character: {text:?}"
    );
    assert!(
        !text.lines().any(|l| l.trim_start().starts_with("✓ fake")),
        "{what}: a forged line: {text}"
    );
    assert!(text.contains(ESCAPED), "{what}: the value, escaped: {text}");
}

/// Issue 9: values never reach the terminal raw: the run's narration, status, tasks, attempts,
/// events, --explain, a dry run, logs headers and errors show them escaped; --json stays exact.
#[test]
fn values_are_escaped_wherever_they_are_printed() {
    let exp = Exp::new(EVIL);
    let run = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(run.code(), 1, "the evil task fails: {}", run.stderr());
    only_escaped("run", &run.stderr());
    let again = exp.run(&["run", "exp.toml", "--no-progress"]);
    only_escaped("resume", &again.stderr());
    for args in [
        &["status"][..],
        &["status", "--explain"],
        &["status", "--explain", "exp.toml"],
        &["run", "exp.toml", "--dry-run"],
        &["tasks"],
        &["tasks", "--state", "failed", "--attempts"],
    ] {
        let out = exp.run(args);
        only_escaped(&format!("{args:?}"), &(out.stdout() + &out.stderr()));
    }
    // These name no value (events name tasks by key, log headers by path): nothing raw anyway.
    for args in [&["events"][..], &["logs", "x=plain"], &["list"]] {
        let text = exp.run(args).stdout();
        assert!(!text.contains('\u{1b}'), "{args:?}: {text:?}");
    }
    let fresh = Exp::new(EVIL);
    let dry = fresh.run(&["run", "exp.toml", "--dry-run"]);
    only_escaped("a fresh dry run", &dry.stdout());
    let missing = exp.run(&["logs", "x=none\u{1b}[2J"]);
    assert_eq!(missing.code(), 2);
    assert!(!missing.stderr().contains('\u{1b}'), "{}", missing.stderr());

    let tasks = exp.tasks();
    assert_eq!(
        tasks[0]["params"]["x"], "a\u{1b}[2J\u{202e}x\n✓ fake",
        "--json is exact"
    );
}

/// An experiment named `name` with two tasks that write a result.
fn experiment(name: &str) -> String {
    format!(
        "[experiment]\nname = \"{name}\"\ncommand = \"echo '{{\\\"exp\\\": \\\"{name}\\\"}}' > $LABTRAIL_RESULT\"\n[params]\nx = [1, 2]\n"
    )
}

/// Issue 9: read commands given an experiment file act on that experiment's latest run, in the
/// store next to the file (as `run` finds it, from any folder); without one, in a store with
/// runs of several experiments, they say on stderr which run they picked.
#[test]
fn read_commands_given_an_experiment_file_read_its_latest_run() {
    let exp = Exp::new(&experiment("first"));
    exp.write("second.toml", &experiment("second"));
    for file in ["exp.toml", "second.toml"] {
        let out = exp.run(&["run", file, "--no-progress"]);
        assert_eq!(out.code(), 0, "{file}: {}", out.stderr());
    }
    let elsewhere = tempfile::tempdir().unwrap();
    let file = exp.file("exp.toml").display().to_string();
    let from_elsewhere = |args: &[&str]| {
        let mut cmd = exp.cmd(args);
        cmd.current_dir(elsewhere.path());
        Out(cmd.output().unwrap())
    };

    let status = from_elsewhere(&["status", &file]);
    assert_eq!(status.code(), 0, "{}", status.stderr());
    assert!(
        status.stdout().starts_with("run first-"),
        "{}",
        status.stdout()
    );
    assert!(status.stderr().is_empty(), "{}", status.stderr());
    let results = from_elsewhere(&["results", &file, "--format", "jsonl"]).stdout();
    assert_eq!(results.matches(r#""exp":"first""#).count(), 2, "{results}");
    for args in [
        &["tasks", &file][..],
        &["tasks", "x=1", &file],
        &["tasks", &file, "x=1", "--attempts"],
        &["events", &file],
        &["logs", "x=1", &file],
        &["logs", &file, "x=1"],
        &["status", &file, "--explain"],
    ] {
        let out = from_elsewhere(args);
        assert_eq!(out.code(), 0, "{args:?}: {}", out.stderr());
    }
    let tasks = from_elsewhere(&["tasks", &file, "--json"]).stdout();
    assert!(tasks.contains(r#""exp": "first""#), "{tasks}");

    let reset = exp.run(&["reset", "x=1", "exp.toml"]);
    assert_eq!(reset.code(), 0, "{}", reset.stderr());
    assert!(
        reset.stdout().contains("of run first-"),
        "{}",
        reset.stdout()
    );
    let first = exp.run(&["status", "exp.toml"]).stdout();
    assert!(first.contains("1/2 done, 1 pending"), "{first}");
    let second = exp.run(&["status", "second.toml"]).stdout();
    assert!(second.contains("2/2 done"), "{second}");

    // No file, no --run: the store's latest run, and a line that says so.
    let status = exp.run(&["status"]);
    assert!(
        status.stdout().starts_with("run second-"),
        "{}",
        status.stdout()
    );
    let note = status.stderr();
    assert_eq!(note.lines().count(), 1, "{note}");
    assert!(
        note.contains("reading run second-") && note.contains("2 experiments"),
        "{note}"
    );

    exp.write("third.toml", &experiment("third"));
    let none = exp.run(&["status", "third.toml"]);
    assert_eq!(none.code(), 2);
    assert!(
        none.stderr().contains("experiment `third`") && none.stderr().contains("no run"),
        "{}",
        none.stderr()
    );
}

/// Issue 9: `check` names folders of the store, whose path may hold anything a folder name can:
/// they are escaped too.
#[test]
fn check_escapes_the_paths_it_names() {
    let exp = Exp::new(&experiment("chk"));
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let odd = exp.path().join("a\u{1b}[2Jb");
    std::fs::rename(exp.file(".labtrail"), &odd).unwrap();
    std::fs::remove_dir_all(
        std::fs::read_dir(odd.join("runs"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path(),
    )
    .unwrap();
    let check = exp.run(&["--store", odd.to_str().unwrap(), "check"]);
    assert_eq!(check.code(), 3, "a missing run folder: {}", check.stderr());
    let text = check.stdout() + &check.stderr();
    assert!(text.contains("\\u{1b}[2J"), "{text}");
    assert!(!text.contains('\u{1b}'), "{text:?}");
}
