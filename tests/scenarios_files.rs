//! Issue 9: what a task does to the files and folders labtrail gave it: a result or metrics
//! path turned into a FIFO, a folder or a device; its own task or run folder deleted; the
//! experiment folder moved.

mod common;
use common::*;
use std::process::Child;
use std::time::Duration;

/// Waits for `child` to end, for up to a minute; a child still running then is killed, and
/// the test fails: labtrail hung.
fn finish_within_a_minute(mut child: Child, what: &str) -> Out {
    let ended = (0..3000).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        child.try_wait().unwrap().is_some()
    });
    if !ended {
        signal(&child, libc::SIGKILL);
        let out = finish(child);
        panic!("{what}: labtrail hung; stderr: {}", out.stderr());
    }
    finish(child)
}

/// Issue 9: a task that turns its result and metrics paths into FIFOs (opening one for reading
/// waits for a writer, for ever), folders or a device does not hang the runner: the run
/// ends, and each attempt failed with a reason that says what the file is.
#[test]
fn a_result_path_that_is_not_a_regular_file_is_refused_unopened() {
    let exp = Exp::new(
        r#"
[experiment]
name = "fifo"
command = "sh make.sh {kind}"
[params]
kind = ["fifo", "folder", "device"]
"#,
    );
    exp.write(
        "make.sh",
        r#"
case "$1" in
  fifo) mkfifo "$LABTRAIL_RESULT" "$LABTRAIL_METRICS" ;;
  folder) mkdir "$LABTRAIL_RESULT" "$LABTRAIL_METRICS" ;;
  device) ln -s /dev/null "$LABTRAIL_RESULT"; ln -s /dev/null "$LABTRAIL_METRICS" ;;
esac
"#,
    );
    let child = exp.spawn(&["run", "exp.toml", "--no-progress"]);
    let out = finish_within_a_minute(child, "a FIFO result");
    assert_eq!(out.code(), 1, "{}", out.stderr());
    for (kind, what) in [
        ("fifo", "a FIFO (named pipe)"),
        ("folder", "a folder"),
        ("device", "a device"),
    ] {
        let task = exp
            .tasks()
            .into_iter()
            .find(|t| t["params"]["kind"] == kind)
            .unwrap();
        assert_eq!(task["state"], "failed", "{kind}: {task}");
        let reason = task["reason"].as_str().unwrap_or_default();
        assert!(
            reason.starts_with("cannot read result file ")
                && reason.contains(&format!("it is {what}, not a regular file")),
            "{kind}: {reason}"
        );
        assert!(
            out.stderr()
                .contains(&format!("metrics.jsonl not read: it is {what}")),
            "{kind}: the metrics file is named in a warning: {}",
            out.stderr()
        );
    }
}

/// An experiment whose one task deletes `folder` (a shell expression) in its first attempt
/// and fails; its second attempt succeeds if it can write in its task folder.
fn deleting(folder: &str) -> Exp {
    let exp = Exp::new(
        r#"
[experiment]
name = "del"
command = "sh task.sh"
[run]
retries = 1
backoff = "0s"
"#,
    );
    exp.write(
        "task.sh",
        &format!(
            r#"
if [ "$LABTRAIL_ATTEMPT" = 1 ]; then rm -rf "{folder}"; echo gone; exit 1; fi
echo again > "$LABTRAIL_TASK_DIR/ok" && echo '{{"ok": 1}}' > "$LABTRAIL_RESULT"
"#
        ),
    );
    exp
}

/// Issue 9: a task that deletes its own task folder, or its whole run folder, is retried: the
/// next attempt makes again what labtrail needs (the task folder, the attempts folder) and runs.
#[test]
fn a_task_that_deletes_its_folders_is_retried_in_new_ones() {
    for folder in [
        "$LABTRAIL_TASK_DIR",
        "$LABTRAIL_STORE/runs/$LABTRAIL_RUN_ID",
    ] {
        let exp = deleting(folder);
        let out = exp.run(&["run", "exp.toml", "--no-progress"]);
        assert_eq!(out.code(), 0, "{folder}: {}", out.stderr());
        let task = &exp.tasks()[0];
        assert_eq!(task["attempts"], 2, "{folder}: {task}");
        assert_eq!(task["result"]["ok"], 1, "{folder}: {task}");
        let key = task["key"].as_str().unwrap();
        let ok = exp.run_dir().join("tasks").join(key).join("ok");
        assert!(ok.is_file(), "{folder}: the task folder was made again");
        let logs = exp.run(&["logs", key]);
        assert_eq!(logs.code(), 0, "{folder}: {}", logs.stderr());
    }
}

/// Issue 9: `labtrail check` notices a done task's folder or a run's folder that was deleted,
/// names it, and exits 3 (a store problem), without calling the sound database damaged.
#[test]
fn check_names_a_missing_task_or_run_folder() {
    let exp = deleting("/nowhere/nothing");
    assert_eq!(exp.run(&["run", "exp.toml", "-q"]).code(), 0);
    assert_eq!(exp.run(&["check"]).code(), 0);
    let key = exp.tasks()[0]["key"].as_str().unwrap().to_string();
    let task_dir = exp.run_dir().join("tasks").join(&key);
    std::fs::remove_dir_all(&task_dir).unwrap();
    let out = exp.run(&["check"]);
    assert_eq!(out.code(), 3, "{}", out.stderr());
    assert!(
        out.stdout().contains(&format!(
            "task main is done, but its folder {} (LABTRAIL_TASK_DIR) is missing",
            task_dir.display()
        )),
        "{}",
        out.stdout()
    );
    assert!(!out.stderr().contains("damaged"), "{}", out.stderr());

    let run_dir = exp.run_dir();
    std::fs::remove_dir_all(&run_dir).unwrap();
    let out = exp.run(&["check"]);
    assert_eq!(out.code(), 3, "{}", out.stderr());
    assert!(
        out.stdout()
            .contains(&format!("its folder {} is missing", run_dir.display())),
        "{}",
        out.stdout()
    );
}

/// Issue 9: when labtrail cannot make its folders again (the task put a file where the run
/// folder was), the attempt fails with a reason that names the path.
#[test]
fn a_folder_that_cannot_be_made_again_is_named() {
    let run = "$LABTRAIL_STORE/runs/$LABTRAIL_RUN_ID";
    let exp = deleting(&format!(r#"{run}"; echo > "{run}"#));
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let task = &exp.tasks()[0];
    let reason = task["reason"].as_str().unwrap_or_default();
    let key = task["key"].as_str().unwrap();
    let log = exp.run_dir().join(format!("attempts/{key}-2.stdout.log"));
    assert_eq!(
        reason,
        format!(
            "could not start: {}: Not a directory (os error 20)",
            log.display()
        )
    );
}

/// Issue 9: moving or renaming the experiment folder, its `.labtrail` store inside, keeps
/// `labtrail logs` working: attempt file paths are stored relative to the store. A row an older
/// labtrail wrote, with an absolute path, finds its file under the moved store too.
#[test]
fn logs_still_work_after_the_experiment_folder_moved() {
    let exp = Exp::new(
        r#"
[experiment]
name = "moved"
command = "echo hello {x}; echo oops {x} >&2"
[params]
x = [1, 2]
"#,
    );
    let out = exp.run(&["run", "exp.toml", "-q"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    // Task x=2's row as labtrail 0.3 wrote it: absolute paths (no older binary to run here).
    let db = rusqlite::Connection::open(exp.file(".labtrail/labtrail.db")).unwrap();
    let store = exp.file(".labtrail").display().to_string();
    let key2 = exp.tasks()[1]["key"].as_str().unwrap().to_string();
    let changed = db
        .execute(
            // Since issue 15 a default log name is stored as '' (labtrail 0.3 stored it whole).
            "UPDATE attempts SET
                stdout_path = ?1 || '/runs/' || run_id || '/attempts/' || task_key || '-' || number || '.stdout.log',
                stderr_path = ?1 || '/runs/' || run_id || '/attempts/' || task_key || '-' || number || '.stderr.log'
             WHERE task_key = ?2 AND stdout_path = ''",
            rusqlite::params![store, key2],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(db);

    let moved = exp.path().with_file_name(format!(
        "{}-renamed",
        exp.path().file_name().unwrap().to_string_lossy()
    ));
    std::fs::rename(exp.path(), &moved).unwrap();
    let logs = |task: &str| {
        let out = exp
            .cmd(&["logs", task])
            .current_dir(&moved)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (one, two) = (logs("x=1"), logs("x=2"));
    std::fs::rename(&moved, exp.path()).unwrap();
    assert_eq!(one.0, Some(0), "{}", one.2);
    assert!(
        one.1.contains("hello 1") && one.1.contains("oops 1"),
        "{one:?}"
    );
    assert_eq!(two.0, Some(0), "{}", two.2);
    assert!(
        two.1.contains("hello 2") && two.1.contains("oops 2"),
        "{two:?}"
    );
}

/// Issue 9: a task that deletes its run folder does not take the run lock with it: a second
/// runner of the same run is still refused (before, the lock file lived in the run folder; the
/// first runner then held a lock on a file with no name and a second one ran the same tasks),
/// and the read commands still see the runner alive.
#[test]
fn a_task_that_deletes_its_run_folder_leaves_the_run_locked() {
    let exp = Exp::new(
        r#"
[experiment]
name = "gone"
command = "rm -rf \"$(cd \"$LABTRAIL_TASK_DIR/../..\" && pwd)\" && touch deleted; while [ ! -f go ]; do sleep 0.05; done"
"#,
    );
    let runner = exp.spawn(&["run", "exp.toml", "--no-progress"]);
    // However the test ends, the task is let go, so no runner outlives it.
    struct GoOnDrop(std::path::PathBuf);
    impl Drop for GoOnDrop {
        fn drop(&mut self) {
            let _ = std::fs::write(&self.0, "");
        }
    }
    let _go = GoOnDrop(exp.file("go"));
    wait_until(
        "the task to delete its run folder",
        Duration::from_secs(30),
        || exp.file("deleted").exists(),
    );
    let runs = std::fs::read_dir(exp.file(".labtrail/runs"))
        .unwrap()
        .count();
    assert_eq!(runs, 0, "the run folder is gone");
    // Without the fix the second runner runs the task again, which waits for `go`: it is
    // given a minute to be refused.
    let second = finish_within_a_minute(
        exp.spawn(&["run", "exp.toml", "--no-progress"]),
        "a second runner of the same run",
    );
    assert_eq!(second.code(), 4, "refused: {}", second.stderr());
    // The start is committed within the runner's next commit window; from then on the read
    // commands see it running (never "interrupted (runner gone)": its runner is alive).
    wait_until(
        "the task to read as running",
        Duration::from_secs(10),
        || {
            exp.run(&["tasks", "--json"])
                .stdout()
                .contains("\"running\"")
        },
    );
    assert_eq!(exp.count("interrupted"), 0);
    exp.write("go", "");
    let first = finish_within_a_minute(runner, "the first runner");
    assert_eq!(first.code(), 0, "{}", first.stderr());
}
