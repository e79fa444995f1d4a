//! Issue 15: a task that writes nothing leaves nothing. Empty logs are not kept, a task's folder
//! stays only when the task kept something in it, and every reader copes: `logs`, `check`, a
//! retry finding its checkpoint, a downstream task finding its upstream's folder, a resume after
//! the runner was killed.

mod common;
use common::*;
use std::path::Path;
use std::time::Duration;

/// Every file and folder under `dir`, `dir` itself included: the inodes it uses.
fn inodes(dir: &Path) -> usize {
    1 + std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                inodes(&e.path())
            } else {
                1
            }
        })
        .sum::<usize>()
}

/// The names in folder `dir` of the run, sorted.
fn names(exp: &Exp, dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(exp.run_dir().join(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn grid(command: &str, n: usize) -> Exp {
    Exp::new(&format!(
        "[experiment]\nname = \"e\"\ncommand = {command:?}\n[params]\ni = {{ range = [0, {n}] }}\n"
    ))
}

/// Issue 15: 200 tasks that write nothing leave no log and no folder: `.labtrail` holds the same
/// few files and folders whatever the number of tasks (the database, the run's folders, the
/// locks), and `check` finds nothing wrong with the folders that are not there.
#[test]
fn trivial_tasks_leave_no_file_or_folder() {
    let exp = grid("true {i}", 200);
    exp.run_ok(&["run", "exp.toml", "-q", "--no-progress", "-j2"]);
    assert_eq!(exp.count("done"), 200);
    assert_eq!(names(&exp, "tasks"), Vec::<String>::new());
    assert_eq!(names(&exp, "attempts"), Vec::<String>::new());
    let used = inodes(&exp.file(".labtrail"));
    assert!(
        used <= 12,
        "{used} inodes in .labtrail after 200 silent tasks"
    );
    let check = exp.run(&["check"]);
    assert_eq!(check.code(), 0, "{}{}", check.stdout(), check.stderr());
}

/// Issue 15: a task that writes only to stderr keeps its stderr log, and only that.
#[test]
fn a_task_writing_only_stderr_keeps_only_stderr() {
    let exp = grid("echo oops {i} >&2", 2);
    exp.run_ok(&["run", "exp.toml", "-q", "--no-progress"]);
    let kept = names(&exp, "attempts");
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(
        kept.iter().all(|n| n.ends_with("-1.stderr.log")),
        "{kept:?}"
    );
    let logs = exp.run(&["logs", "i=1"]);
    assert_eq!(logs.code(), 0, "{}", logs.stderr());
    let out = logs.stdout();
    let [first, second, third, fourth] = out.lines().collect::<Vec<_>>()[..] else {
        panic!("{out}")
    };
    assert!(
        first.starts_with("==> ") && first.ends_with(".stdout.log <=="),
        "{out}"
    );
    assert_eq!(second, "(no output)", "{out}");
    assert!(third.ends_with(".stderr.log <=="), "{out}");
    assert_eq!(fourth, "oops 1", "{out}");
}

/// Issue 15: `labtrail logs` of a task that wrote nothing says so for each log; shown alone
/// (`--stdout`), the log prints nothing and the note goes to stderr, so that a redirect gets only
/// what the task wrote.
#[test]
fn logs_of_a_silent_task_say_no_output() {
    let exp = grid("true {i}", 1);
    exp.run_ok(&["run", "exp.toml", "-q", "--no-progress"]);
    let logs = exp.run(&["logs", "i=0"]);
    assert_eq!(logs.code(), 0, "{}", logs.stderr());
    let out = logs.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert_eq!(
        (lines[1], lines[3]),
        ("(no output)", "(no output)"),
        "{out}"
    );
    assert!(!out.contains("cannot read"), "{out}");
    let alone = exp.run(&["logs", "i=0", "--stdout"]);
    assert_eq!((alone.code(), alone.stdout()), (0, String::new()));
    assert!(alone.stderr().contains("no output"), "{}", alone.stderr());
}

/// Issue 15: a folder the task wrote in stays (and `check` misses it once deleted); the folder of
/// a task that wrote nothing is gone, and `check` does not call that a loss.
#[test]
fn a_task_folder_stays_when_the_task_kept_something_in_it() {
    let exp = grid(
        "if [ {i} = 1 ]; then echo x > \"$LABTRAIL_TASK_DIR/out\"; fi",
        2,
    );
    exp.run_ok(&["run", "exp.toml", "-q", "--no-progress"]);
    let tasks = names(&exp, "tasks");
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    let kept = exp.run_dir().join("tasks").join(&tasks[0]);
    assert_eq!(std::fs::read_to_string(kept.join("out")).unwrap(), "x\n");
    let check = exp.run(&["check"]);
    assert_eq!(check.code(), 0, "{}", check.stdout());

    std::fs::remove_dir_all(&kept).unwrap();
    let check = exp.run(&["check"]);
    assert_eq!(check.code(), 3, "{}", check.stdout());
    assert!(
        check.stdout().contains("(LABTRAIL_TASK_DIR) is missing") && check.stdout().contains("i=1"),
        "{}",
        check.stdout()
    );
    assert!(!check.stdout().contains("i=0"), "{}", check.stdout());
}

/// Issue 15: a retry finds the checkpoint its failed attempt left in the task's folder, and a
/// downstream task finds its upstream task's folder even when that task kept nothing in it.
#[test]
fn a_retry_and_a_downstream_task_find_the_folders_they_need() {
    let exp = Exp::new(
        r#"
[experiment]
name = "e"
[params]
i = [1]
[[stage]]
name = "prep"
command = "true {i}"
[[stage]]
name = "train"
retries = 1
command = "test -d \"$LABTRAIL_UPSTREAM_PREP\" || exit 7; if [ -f \"$LABTRAIL_TASK_DIR/ckpt\" ]; then echo resumed; else touch \"$LABTRAIL_TASK_DIR/ckpt\"; exit 1; fi"
"#,
    );
    exp.run_ok(&["run", "exp.toml", "-q", "--no-progress"]);
    let train = exp.attempts("train");
    assert_eq!(train.len(), 2, "{train:?}");
    let logs = exp.run(&["logs", "train", "--stdout"]);
    assert_eq!(logs.stdout(), "resumed\n", "{}", logs.stderr());
    let check = exp.run(&["check"]);
    assert_eq!(check.code(), 0, "{}", check.stdout());
}

/// Issue 15: a runner killed (SIGKILL) in the middle of a run of silent tasks, then resumed: every
/// task is done once, `check` finds nothing wrong, and what the crash left is a few files at
/// most (the empty logs of attempts whose end was not committed yet: harmless).
#[test]
fn a_resume_after_a_kill_during_silent_tasks_stays_correct() {
    let exp = grid("sleep 0.01; true {i}", 300);
    let runner = exp.spawn(&["run", "exp.toml", "-q", "--no-progress", "-j2"]);
    let store = exp.file(".labtrail");
    wait_until("some tasks done", Duration::from_secs(120), || {
        done_in_db(&store) >= 50
    });
    signal(&runner, libc::SIGKILL);
    finish(runner);
    assert!(
        done_in_db(&store) < 300,
        "the kill came too late to test anything"
    );
    let out = exp.run(&["run", "exp.toml", "-q", "--no-progress", "-j2"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_eq!(exp.count("done"), 300);
    let starts: Vec<i64> = exp.column("SELECT COUNT(*) FROM attempts WHERE outcome = 'success'");
    assert_eq!(starts, [300], "each task succeeded once");
    let check = exp.run(&["check"]);
    assert_eq!(check.code(), 0, "{}{}", check.stdout(), check.stderr());
    let used = inodes(&store);
    assert!(used <= 24, "{used} inodes in .labtrail after the resume");
}
