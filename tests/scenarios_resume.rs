//! Issue 2, scenarios 1, 2, 4 and 8: resume after SIGKILL, retry after a fix, changed
//! parameters make new tasks, and run selection (--resume, --id, --fresh, list).

mod common;
use common::*;
use std::time::Duration;

const GRID_18: &str = r#"
[experiment]
name = "ablation"
command = "sleep 0.3; echo $LABTRAIL_TASK_KEY >> ledger.txt; echo '{\"rep\": \"{rep}\"}' > $LABTRAIL_RESULT"
[params]
dataset = ["50k"]
rep = ["simple_stats", "rank_based", "stats", "spectral", "pca", "ica", "umap", "tsne", "raw"]
layers = ["all_layers", "visual_only"]
[run]
workers = 1
"#;

/// Scenario 1: 18 tasks; SIGKILL after 3 finished; the same command skips those 3 and runs 15.
#[test]
fn sigkill_after_three_then_resume_runs_the_other_fifteen() {
    let exp = Exp::new(GRID_18);
    let store = exp.file(".labtrail");
    let child = exp.spawn(&["run", "exp.toml", "--no-progress"]);
    wait_until("3 tasks done", Duration::from_secs(30), || {
        done_in_db(&store) >= 3
    });
    signal(&child, libc::SIGKILL);
    let killed = finish(child);
    assert_eq!(
        killed.0.status.code(),
        None,
        "runner was killed by a signal"
    );
    let done_before = done_in_db(&store);
    assert_eq!(done_before, 3, "killed right after the third task");

    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let err = out.stderr();
    assert!(err.contains("found 3 of 18 tasks done"), "{err}");
    assert_eq!(err.matches("(skipped, already done)").count(), 3, "{err}");
    assert!(err.contains("Will run 15 remaining"), "{err}");
    // The 4th task was running: recorded as such, or (killed between its start and the commit
    // that records it) found by its log. Either way it is interrupted and runs again.
    assert!(
        err.contains("1 attempt(s) were still running")
            || err.contains("attempt 1 was started by a runner that stopped before recording it"),
        "the 4th task was interrupted: {err}"
    );
    let fourth = exp.attempts("rep=rank_based,layers=visual_only");
    assert_eq!(fourth.len(), 2, "{fourth:?}");
    assert_eq!(fourth[0]["outcome"], "interrupted");
    assert_eq!(fourth[1]["outcome"], "success");

    let ledger = exp.ledger("ledger.txt");
    let mut unique = ledger.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        ledger.len(),
        18,
        "every task completed exactly once: {ledger:?}"
    );
    assert_eq!(unique.len(), 18);
    assert_eq!(exp.count("done"), 18);
    assert!(
        processes_of_store(&store).is_empty(),
        "no task process outlives its runner"
    );
}

/// Scenario 2: a task fails (a bug); after the fix only the failed task runs again.
#[test]
fn fix_a_bug_then_only_the_failed_task_runs() {
    let exp = Exp::new(
        r#"
[experiment]
name = "buggy"
command = "if [ {rep} = ensemble ] && [ ! -e fixed ]; then echo 'bug!' >&2; exit 3; fi; echo {rep} >> ledger.txt"
[params]
rep = ["a", "b", "ensemble", "c"]
[run]
workers = 2
"#,
    );
    let first = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(
        first.code(),
        1,
        "a failed task makes exit code 1: {}",
        first.stderr()
    );
    assert!(first.stderr().contains("exit code 3"), "{}", first.stderr());
    assert_eq!(exp.count("failed"), 1);
    let logs = exp.run(&["logs", "rep=ensemble", "--stderr"]);
    assert!(
        logs.stdout().contains("bug!"),
        "the failing task's stderr is kept: {}",
        logs.stdout()
    );

    exp.write("fixed", "");
    let second = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(second.code(), 0, "{}", second.stderr());
    assert!(
        second.stderr().contains("1 failed"),
        "resume names the failed task to retry: {}",
        second.stderr()
    );
    let mut ledger = exp.ledger("ledger.txt");
    ledger.sort();
    assert_eq!(
        ledger,
        ["a", "b", "c", "ensemble"],
        "nothing finished ran twice"
    );
    let attempts = exp.run(&["tasks", "rep=ensemble", "--attempts", "--json"]);
    let attempts: Vec<serde_json::Value> = serde_json::from_str(&attempts.stdout()).unwrap();
    assert_eq!(attempts.len(), 2, "both attempts are in the history");
    assert_eq!(attempts[0]["attempt"]["outcome"], "failed");
    assert_eq!(attempts[1]["attempt"]["outcome"], "success");
}

/// Scenario 4: a changed value or command makes new tasks; old results stay but are not reused.
#[test]
fn changed_parameters_or_command_make_new_tasks() {
    let exp = Exp::new(
        r#"
[experiment]
name = "lr"
command = "echo {lr} >> ledger.txt; echo '{\"lr\": {lr}}' > $LABTRAIL_RESULT"
[params]
lr = [0.1, 0.01]
"#,
    );
    assert_eq!(exp.run(&["run", "exp.toml", "--no-progress"]).code(), 0);
    exp.write(
        "exp.toml",
        &std::fs::read_to_string(exp.file("exp.toml"))
            .unwrap()
            .replace("0.01]", "0.001]"),
    );
    let explain = exp.run(&["status", "--explain", "exp.toml"]);
    assert!(explain.stdout().contains("skip"), "{}", explain.stdout());
    assert!(
        explain.stdout().contains("new task"),
        "{}",
        explain.stdout()
    );
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr()
            .contains("1 task(s) of an earlier configuration are kept"),
        "{}",
        out.stderr()
    );
    // The first run's two tasks run side by side: their order in the ledger is not fixed.
    let ledger = exp.ledger("ledger.txt");
    let mut first_run = ledger[..2].to_vec();
    first_run.sort();
    assert_eq!(first_run, ["0.01", "0.1"], "{ledger:?}");
    assert_eq!(ledger[2..], ["0.001"], "only the new value ran: {ledger:?}");
    let results = exp.run(&["results", "--format", "jsonl"]);
    assert_eq!(
        results.stdout().lines().count(),
        2,
        "results cover the current plan only: {}",
        results.stdout()
    );

    // Changing the command (not the values) makes every task new.
    exp.write(
        "exp.toml",
        &std::fs::read_to_string(exp.file("exp.toml"))
            .unwrap()
            .replace("echo {lr} >>", "echo v2 {lr} >>"),
    );
    let explain = exp.run(&["status", "--explain", "exp.toml"]);
    assert!(
        explain.stdout().contains("the command changed"),
        "{}",
        explain.stdout()
    );
    assert_eq!(exp.run(&["run", "exp.toml", "--no-progress"]).code(), 0);
    assert_eq!(exp.ledger("ledger.txt").len(), 5);
    // The old results are still in the store, as retired tasks of the run.
    let conn = rusqlite::Connection::open(exp.file(".labtrail/labtrail.db")).unwrap();
    let kept: i64 = conn.query_row("SELECT COUNT(*) FROM tasks WHERE in_plan = 0 AND state = 'done' AND result IS NOT NULL", [], |r| r.get(0)).unwrap();
    assert_eq!(kept, 3);
}

/// Scenario 8: --resume latest / RUN_ID, --id, --fresh, list.
#[test]
fn run_selection_flags_and_list() {
    let exp = Exp::new(
        r#"
[experiment]
name = "sel"
command = "echo {x} >> ledger.txt"
[params]
x = [1, 2]
"#,
    );
    let none = exp.run(&["run", "exp.toml", "--resume", "latest"]);
    assert_eq!(
        none.code(),
        2,
        "nothing to resume is a usage error: {}",
        none.stderr()
    );
    assert!(none.stderr().contains("no runs yet"), "{}", none.stderr());

    assert_eq!(
        exp.run(&["run", "exp.toml", "--id", "first", "-q"]).code(),
        0
    );
    assert_eq!(
        exp.run(&["run", "exp.toml", "--fresh", "-q"]).code(),
        0,
        "fresh runs everything again"
    );
    assert_eq!(exp.ledger("ledger.txt").len(), 4);
    let resumed = exp.run(&["run", "exp.toml", "--resume", "first"]);
    assert_eq!(resumed.code(), 0);
    assert!(
        resumed.stderr().contains("Resuming run first"),
        "{}",
        resumed.stderr()
    );
    let latest = exp.run(&["run", "exp.toml", "--resume", "latest"]);
    assert!(
        !latest.stderr().contains("run first"),
        "latest is the fresh run: {}",
        latest.stderr()
    );
    assert_eq!(
        exp.ledger("ledger.txt").len(),
        4,
        "resuming finished runs runs nothing"
    );

    let again = exp.run(&["run", "exp.toml", "--fresh", "--id", "first"]);
    assert_eq!(
        again.code(),
        2,
        "--fresh with an existing id is refused: {}",
        again.stderr()
    );
    let bad = exp.run(&["run", "exp.toml", "--id", "../escape"]);
    assert_eq!(bad.code(), 2, "run ids cannot name paths: {}", bad.stderr());
    let missing = exp.run(&["run", "exp.toml", "--resume", "nope"]);
    assert_eq!(missing.code(), 2);
    assert!(
        missing.stderr().contains("known runs: "),
        "{}",
        missing.stderr()
    );

    let list = exp.run(&["list", "--json"]);
    let runs: Vec<serde_json::Value> = serde_json::from_str(&list.stdout()).unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["id"], "first");
    assert!(runs.iter().all(|r| r["done"] == 2 && r["total"] == 2));
    let table = exp.run(&["list"]);
    assert!(
        table.stdout().contains("first") && table.stdout().contains("finished"),
        "{}",
        table.stdout()
    );
}
