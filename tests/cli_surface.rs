//! The command-line surface: help that teaches, completions, JSON listings, following logs, and
//! a full disk (issue 2: "bad input ... full disk gets a clear error").

mod common;
use common::*;
use std::time::Duration;

#[test]
fn every_command_has_help_with_an_example() {
    let exp = Exp::new("");
    for cmd in [
        "run",
        "status",
        "list",
        "tasks",
        "logs",
        "results",
        "reset",
        "check",
        "events",
        "monitor",
        "diff",
        "archive",
        "metrics",
        "snapshot",
        "snapshots",
        "completions",
    ] {
        let out = exp.run(&[cmd, "--help"]);
        assert_eq!(out.code(), 0, "{cmd} --help");
        assert!(
            out.stdout().contains("Example"),
            "`labtrail {cmd} --help` shows an example:\n{}",
            out.stdout()
        );
    }
    let top = exp.run(&["--help"]).stdout();
    assert!(top.contains("Exit codes") && top.contains("130"), "{top}");
}

#[test]
fn completions_and_json_listings() {
    let exp = Exp::new(
        r#"
[experiment]
name = "surface"
command = "echo {x}"
[params]
x = ["a", "b"]
"#,
    );
    let bash = exp.run(&["completions", "bash"]);
    assert!(
        bash.stdout().contains("_labtrail"),
        "{}",
        &bash.stdout()[..200.min(bash.stdout().len())]
    );
    assert_eq!(exp.run(&["run", "exp.toml", "-q"]).code(), 0);
    let status: serde_json::Value =
        serde_json::from_str(&exp.run(&["status", "--json"]).stdout()).unwrap();
    assert_eq!(status["counts"]["done"], 2);
    assert_eq!(status["groups"]["x=a"]["done"], 1, "{status}");
    let events: Vec<serde_json::Value> =
        serde_json::from_str(&exp.run(&["events", "--json"]).stdout()).unwrap();
    assert!(events.iter().filter(|e| e["kind"] == "finished").count() == 2);
    let bad = exp.run(&["tasks", "--state", "bogus"]);
    assert_eq!(bad.code(), 2);
    assert!(bad.stderr().contains("unknown state"), "{}", bad.stderr());
}

#[test]
fn logs_follow_prints_until_the_attempt_ends() {
    let exp = Exp::new(
        r#"
[experiment]
name = "follow"
command = "while [ ! -f go ]; do sleep 0.05; done; for i in 1 2 3 4 5; do echo line $i; sleep 0.2; done"
"#,
    );
    // The task waits for `go`, so the poll cannot miss it running (under load it did: the
    // whole task took one second).
    let runner = exp.spawn(&["run", "exp.toml", "--no-progress"]);
    // Seen once in CI under load and not reproduced since: on a timeout, the runner's own words
    // and the last listing are printed, so that the next failure says why.
    let mut last = String::new();
    let started = (0..1200).any(|_| {
        let o = exp.run(&["tasks", "--json"]);
        last = format!("exit {}: {}{}", o.code(), o.stdout(), o.stderr());
        last.contains("\"running\"") || {
            std::thread::sleep(Duration::from_millis(50));
            false
        }
    });
    if !started {
        signal(&runner, libc::SIGKILL);
        let out = finish(runner);
        panic!(
            "the task did not start within a minute; last `tasks --json`: {last}\nthe runner (exit {}): {}",
            out.code(),
            out.stderr()
        );
    }
    let follow = exp.spawn(&["logs", "main", "--follow", "--stdout"]);
    exp.write("go", "");
    let follow = finish(follow);
    assert_eq!(follow.code(), 0);
    assert_eq!(
        follow
            .stdout()
            .lines()
            .filter(|l| l.starts_with("line "))
            .count(),
        5,
        "{}",
        follow.stdout()
    );
    assert_eq!(finish(runner).code(), 0);
}

#[test]
#[ignore = "needs root: mounts a 1 MiB tmpfs (scripts/test.sh runs it when root)"]
fn full_disk_is_a_clear_error_and_loses_nothing() {
    let exp = Exp::new(
        r#"
[experiment]
name = "full"
command = "[ {size} = 0 ] && exec sleep 300; python3 -c \"import json, os; json.dump({'blob': 'x' * {size}}, open(os.environ['LABTRAIL_RESULT'], 'w'))\""
[params]
size = [0, 10, 20, 600000]
[run]
workers = 2
"#,
    );
    let store = exp.file("store");
    std::fs::create_dir(&store).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&store)
        .status()
        .unwrap();
    assert!(mounted.success(), "mount failed (are you root?)");
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(store.clone());
    let s = store.to_str().unwrap();
    let t0 = std::time::Instant::now();
    let out = exp.run(&[
        "--store",
        s,
        "run",
        "exp.toml",
        "--no-progress",
        "--grace",
        "5s",
    ]);
    assert_eq!(out.code(), 3, "{}", out.stderr());
    // The task still running when the store failed (size=0 sleeps) was stopped, not waited for.
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(60),
        "{:?}",
        t0.elapsed()
    );
    assert!(
        out.stderr().contains("stopping 1 running task(s)"),
        "{}",
        out.stderr()
    );
    assert!(processes_of_store(&store).is_empty());
    assert!(
        out.stderr().contains("is full") && out.stderr().contains("free some space"),
        "{}",
        out.stderr()
    );
    // The store is intact and the small results are kept.
    let check = exp.run(&["--store", s, "check"]);
    assert_eq!(check.code(), 0, "{}\n{}", check.stdout(), check.stderr());
    let done: Vec<serde_json::Value> = serde_json::from_str(
        &exp.run(&["--store", s, "tasks", "--json", "--state", "done"])
            .stdout(),
    )
    .unwrap();
    assert_eq!(done.len(), 2, "{done:?}");
}

/// Issue 9: more workers than tasks is not an error, and costs no thread per idle worker
/// (`-j 100000` on three tasks aborted when the threads could not all be made).
#[test]
fn more_workers_than_tasks_runs_with_one_per_task() {
    let exp = Exp::new(
        r#"
[experiment]
name = "few"
command = "echo {i}"
[params]
i = [1, 2, 3]
"#,
    );
    let out = exp.run(&["run", "exp.toml", "-j", "100000", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr().contains("3 tasks, 3 workers"),
        "{}",
        out.stderr()
    );
    assert_eq!(
        exp.tasks().iter().filter(|t| t["state"] == "done").count(),
        3
    );
}

/// Issue 9: a store path that is a file is bad input, said once and plainly (the OS error was
/// printed twice: "File exists (os error 17): File exists (os error 17)").
#[test]
fn a_store_that_is_a_file_is_named_as_such() {
    let exp = Exp::new(
        r#"
[experiment]
name = "f"
command = "true"
"#,
    );
    exp.write(".labtrail", "not a store");
    exp.write("other", "");
    for args in [
        vec!["run", "exp.toml", "--no-progress"],
        vec!["status", "--store", "other"],
        vec!["run", "exp.toml", "--store", "other"],
    ] {
        let out = exp.run(&args);
        assert_eq!(out.code(), 2, "{args:?}: {}", out.stderr());
        assert!(
            out.stderr().contains("is a file, not a folder"),
            "{args:?}: {}",
            out.stderr()
        );
    }
    assert_eq!(
        std::fs::read_to_string(exp.path().join(".labtrail")).unwrap(),
        "not a store",
        "nothing was written over it"
    );
}

/// Issue 9: the examples of `logs --help` work on the demo (the one it gave, `rep=spectral`,
/// matches four tasks there); an ambiguous filter is refused with every match listed, never
/// resolved by picking one.
#[test]
fn logs_help_examples_work_on_the_demo_and_ambiguity_lists_the_matches() {
    let exp = Exp::new("");
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo");
    for f in ["experiment.toml", "demo_task.py"] {
        std::fs::copy(demo.join(f), exp.file(f)).unwrap();
    }
    let run = exp.run(&["run", "experiment.toml", "--no-progress"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let help = exp.run(&["logs", "--help"]).stdout();
    let examples: Vec<&str> = help
        .lines()
        .filter_map(|l| l.trim().strip_prefix("labtrail logs "))
        .map(|l| l.split('#').next().unwrap().trim())
        .collect();
    assert!(examples.len() >= 3, "{help}");
    for e in examples {
        let mut args = vec!["logs"];
        args.extend(e.split_whitespace());
        let out = exp.run(&args);
        assert_eq!(out.code(), 0, "`labtrail {e}`: {}", out.stderr());
        assert!(
            out.stdout().contains("finished after"),
            "{e}: {}",
            out.stdout()
        );
    }
    let out = exp.run(&["logs", "rep=spectral"]);
    assert_eq!(out.code(), 2, "{}", out.stdout());
    assert!(out.stdout().is_empty(), "no log is shown: {}", out.stdout());
    let err = out.stderr();
    assert!(err.contains("`rep=spectral` matches 4 tasks"), "{err}");
    for label in [
        "train/layers=all_layers,rep=spectral,seed=1",
        "train/layers=all_layers,rep=spectral,seed=2",
        "train/layers=visual_only,rep=spectral,seed=1",
        "train/layers=visual_only,rep=spectral,seed=2",
    ] {
        assert!(err.contains(label), "{label} listed: {err}");
    }
}
