//! Issue 9: `reset` means "run again from scratch": the task's own folder is moved aside (kept,
//! named in the history), downstream tasks are reset with it, and a reset killed between its
//! transaction and its folder moves is finished by the next command.

mod common;
use common::*;
use std::path::PathBuf;

/// A task that checkpoints into `$LABTRAIL_TASK_DIR` and, finding a checkpoint, finishes at once
/// ("resumed"), as a training does.
const CHECKPOINTING: &str = r#"
[experiment]
name = "ckpt"
command = '''
if [ -f "$LABTRAIL_TASK_DIR/ckpt" ]; then echo "{rep} resumed" >> ledger.txt
else echo "{rep} fresh" >> ledger.txt; echo "attempt $LABTRAIL_ATTEMPT" > "$LABTRAIL_TASK_DIR/ckpt"; fi
'''
[params]
rep = ["a", "b"]
[run]
workers = 1   # the ledger in plan order
"#;

fn key_of(exp: &Exp, label: &str) -> String {
    let t = exp.tasks();
    let t = t.iter().find(|t| t["label"] == label).expect(label);
    t["key"].as_str().unwrap().to_string()
}

fn tasks_dir(exp: &Exp) -> PathBuf {
    exp.run_dir().join("tasks")
}

fn run_ok(exp: &Exp) {
    exp.run_ok(&["run", "exp.toml", "--no-progress"]);
}

/// Issue 9: after `reset`, the rerun starts with an empty task folder instead of finishing at
/// once from the old checkpoint; the old folder is kept under a new name that `events` shows,
/// several resets stack without overwriting, and `--keep-task-dir` continues from the folder.
#[test]
fn reset_moves_the_task_folder_aside_and_keep_task_dir_continues() {
    let exp = Exp::new(CHECKPOINTING);
    run_ok(&exp);
    let key = key_of(&exp, "rep=a");
    let tasks = tasks_dir(&exp);
    assert!(tasks.join(&key).join("ckpt").is_file());

    let out = exp.run(&["reset", "rep=a"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(out.stdout().contains("reset 1 task"), "{}", out.stdout());
    assert!(out.stdout().contains("moved aside"), "{}", out.stdout());
    let aside = tasks.join(format!("{key}.reset-1"));
    assert!(aside.join("ckpt").is_file(), "the old folder is kept");
    assert!(
        !tasks.join(&key).exists(),
        "the next attempt gets a new one"
    );
    run_ok(&exp);
    assert_eq!(exp.ledger("ledger.txt"), ["a fresh", "b fresh", "a fresh"]);
    let events = exp.run(&["events"]).stdout();
    assert!(
        events.contains(&format!("tasks/{key}.reset-1")) && events.contains("task_dir_moved"),
        "{events}"
    );

    // A second reset keeps both earlier folders.
    assert_eq!(exp.run(&["reset", "rep=a"]).code(), 0);
    assert_eq!(
        std::fs::read_to_string(aside.join("ckpt")).unwrap(),
        "attempt 1\n"
    );
    let second = tasks.join(format!("{key}.reset-2"));
    assert_eq!(
        std::fs::read_to_string(second.join("ckpt")).unwrap(),
        "attempt 2\n"
    );

    run_ok(&exp);
    let out = exp.run(&["reset", "rep=a", "--keep-task-dir"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(out.stdout().contains("kept"), "{}", out.stdout());
    run_ok(&exp);
    assert_eq!(
        exp.ledger("ledger.txt").last().map(String::as_str),
        Some("a resumed")
    );
    assert!(!tasks.join(format!("{key}.reset-3")).exists());
    assert_eq!(exp.run(&["check"]).code(), 0);

    // The help teaches it.
    let help = exp.run(&["reset", "--help"]).stdout();
    for taught in [
        "moved aside",
        "KEY.reset-N",
        "--keep-task-dir",
        "downstream",
        "--only",
    ] {
        assert!(
            help.contains(taught),
            "`reset --help` says {taught:?}:\n{help}"
        );
    }
}

/// A staged experiment: `prepare` feeds two `train` tasks, which feed one `eval`.
const STAGED: &str = r#"
[experiment]
name = "staged"
[params]
rep = ["a", "b"]
[[stage]]
name = "prepare"
params = []
command = "echo prepare >> ledger.txt"
[[stage]]
name = "train"
command = "echo train-{rep} >> ledger.txt"
[[stage]]
name = "eval"
params = []
after = ["train"]
command = "echo eval >> ledger.txt"
"#;

/// Issue 9: resetting an upstream task resets every task downstream of it, and says which;
/// `--only` resets just the task named.
#[test]
fn reset_of_an_upstream_task_resets_its_downstream_unless_only() {
    let exp = Exp::new(STAGED);
    run_ok(&exp);
    assert_eq!(exp.ledger("ledger.txt").len(), 4);

    let out = exp.run(&["reset", "train/rep=a"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let text = out.stdout();
    assert!(
        text.contains("reset 1 task and 1 downstream") && text.contains("downstream: eval"),
        "{text}"
    );
    assert_eq!(exp.count("pending"), 2);
    run_ok(&exp);
    assert_eq!(exp.ledger("ledger.txt")[4..], ["train-a", "eval"]);

    let out = exp.run(&["reset", "prepare"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stdout().contains("reset 1 task and 3 downstream"),
        "{}",
        out.stdout()
    );
    assert_eq!(exp.count("pending"), 4);
    run_ok(&exp);

    let out = exp.run(&["reset", "prepare", "--only"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(!out.stdout().contains("downstream"), "{}", out.stdout());
    assert_eq!(exp.count("pending"), 1);
    assert_eq!(exp.count("done"), 3);
}

/// Issue 9: a reset killed after committing its intent and before moving the folder (the worst
/// moment: the task is pending, its old checkpoint still in place) is finished by the next
/// command: the rerun still starts from scratch. Killed after the move but before recording it,
/// the next command finds the move done. Uses the debug build's fault injection
/// (`LABTRAIL_FAULT`), since no signal can be timed to land between two system calls.
#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "fault injection is compiled into debug builds only"
)]
fn a_reset_killed_between_intent_and_move_is_finished_by_the_next_command() {
    let exp = Exp::new(CHECKPOINTING);
    run_ok(&exp);
    let key = key_of(&exp, "rep=a");
    let tasks = tasks_dir(&exp);

    let crashed = exp
        .cmd(&["reset", "rep=a"])
        .env("LABTRAIL_FAULT", "reset-before-move")
        .output()
        .unwrap();
    assert!(!crashed.status.success(), "the fault injection aborts");
    assert!(tasks.join(&key).join("ckpt").is_file(), "not moved yet");
    assert_eq!(exp.count("pending"), 1, "the reset itself was committed");
    run_ok(&exp);
    assert_eq!(exp.ledger("ledger.txt"), ["a fresh", "b fresh", "a fresh"]);
    assert!(tasks.join(format!("{key}.reset-1")).join("ckpt").is_file());
    assert!(exp.run(&["events"]).stdout().contains("task_dir_moved"));

    // Killed after the rename, before recording it: the next reset finds it done and moves
    // the new folder to a new name.
    let crashed = exp
        .cmd(&["reset", "rep=a"])
        .env("LABTRAIL_FAULT", "reset-after-move")
        .output()
        .unwrap();
    assert!(!crashed.status.success());
    assert!(tasks.join(format!("{key}.reset-2")).is_dir());
    let out = exp.run(&["reset", "rep=a"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(out.stdout().contains("interrupted"), "{}", out.stdout());
    let events = exp.run(&["events"]).stdout();
    assert!(events.contains("found moved aside"), "{events}");
    assert!(
        tasks.join(format!("{key}.reset-1")).join("ckpt").is_file()
            && tasks.join(format!("{key}.reset-2")).join("ckpt").is_file(),
        "nothing overwritten"
    );

    // The folder deleted by hand between the crash and the next command: nothing to move, and
    // the history says so.
    run_ok(&exp);
    let crashed = exp
        .cmd(&["reset", "rep=a"])
        .env("LABTRAIL_FAULT", "reset-before-move")
        .output()
        .unwrap();
    assert!(!crashed.status.success());
    std::fs::remove_dir_all(tasks.join(&key)).unwrap();
    run_ok(&exp);
    let events = exp.run(&["events"]).stdout();
    assert!(
        events.contains("was gone before it could be moved aside"),
        "{events}"
    );
    assert!(!tasks.join(format!("{key}.reset-3")).exists());
}

/// Issue 9: a task recorded as running whose runner was killed is not skipped in silence (reset
/// used to leave it running, "reset 0 tasks"): with the run's lock free, reset stops what the
/// dead runner left, records the attempt as interrupted, says so, and resets the task. While a
/// runner holds the run, reset is refused (exit 4) and changes nothing.
#[test]
fn reset_of_a_task_left_running_by_a_killed_runner_recovers_it_first() {
    let exp = Exp::new(
        r#"
[experiment]
name = "orphan"
command = "echo $$ >> started.txt; sleep 60"
[params]
i = [1]
"#,
    );
    let runner = exp.spawn(&["run", "exp.toml", "--no-progress"]);
    wait_until(
        "the task to start",
        std::time::Duration::from_secs(20),
        || !exp.ledger("started.txt").is_empty() && exp.count("running") == 1,
    );
    let refused = exp.run(&["reset", "--all"]);
    assert_eq!(refused.code(), 4, "{}", refused.stderr());
    assert_eq!(exp.count("running"), 1, "a refused reset changes nothing");

    signal(&runner, libc::SIGKILL);
    finish(runner);
    let pid: u32 = exp.ledger("started.txt")[0].parse().unwrap();
    assert!(alive(pid), "the task outlived its runner");
    let out = exp.run(&["reset", "--all"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stdout()
            .contains("1 attempt left running by a runner that is gone")
            && out.stdout().contains("reset 1 task"),
        "{}",
        out.stdout()
    );
    assert_eq!(exp.count("pending"), 1);
    assert_eq!(exp.attempts("i=1")[0]["outcome"], "interrupted");
    wait_until(
        "the left-over task to be stopped",
        std::time::Duration::from_secs(20),
        || !alive(pid),
    );
}

/// Whether `pid` is a live process (not gone, not a zombie waiting to be reaped).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(") ")
            .next()
            .is_some_and(|s| !s.starts_with('Z'))
    })
}
