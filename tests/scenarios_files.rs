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
