//! Issue 11 against a real SLURM cluster: log rules decide for jobs that print the line and exit
//! right away (the usual case, between two polls or while no monitor runs); tails keep up with
//! progress bars; the success marker is found in a log that is not UTF-8.

mod common;
mod slurm_common;
use common::*;
use slurm_common::*;
use std::time::Duration;

/// The README's flagship rule, with a retry that succeeds; `before` runs first in the task.
fn oom_once(name: &str, before: &str) -> Exp {
    oom_once_with(name, before, "")
}

/// [`oom_once`] with more `[slurm]` lines.
fn oom_once_with(name: &str, before: &str, slurm: &str) -> Exp {
    Exp::new(&format!(
        r#"
[experiment]
name = "{name}"
command = "{before}echo step 1; if [ $LABTRAIL_ATTEMPT = 1 ]; then echo 'RuntimeError: CUDA out of memory' >&2; exit 1; fi; echo {{x}} >> ledger.txt"
[params]
x = [1]
{FAST}mem = "100M"
{slurm}
[restart]
log_rules = [ {{ pattern = "CUDA out of memory", outcome = "out_of_memory" }} ]
"#
    ))
}

/// The first attempt ended by the rule, the second succeeded with twice the memory, the task
/// ran twice, and a monitor started again decides nothing new.
fn assert_rule_decided_once(exp: &Exp) {
    let a = exp.attempts("x=1");
    assert_eq!(a.len(), 2, "{a:?}");
    assert_eq!(a[0]["outcome"], "out_of_memory", "{a:?}");
    let reason = a[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("log rule `CUDA out of memory` matched"),
        "{a:?}"
    );
    // Usually the job is gone by the next poll ("the job ended"). A poll can also land in the
    // moment between the line and the job's end (the wrapper still records the exit): the
    // monitor then cancels the job by the same rule, the same decision.
    assert!(
        reason.contains("the job ended") || a[0]["scheduler_state"] == "RUNNING",
        "{a:?}"
    );
    assert_eq!(a[1]["outcome"], "success", "{a:?}");
    let mems: Vec<i64> = exp.column("SELECT mem_mb FROM attempts ORDER BY number");
    assert_eq!(mems, [100, 200], "out_of_memory doubled the memory");
    assert_eq!(exp.ledger("ledger.txt"), ["1"]);
    // The decision is said once: in the attempt's end, and when the poll cancelled the job, in
    // the `cancelling` event before it too (under load a poll lands in that moment more often).
    let rule_events = || {
        let events = exp.run(&["events", "--json"]).stdout();
        (events.matches("log rule").count(), events)
    };
    let (before, events) = rule_events();
    let cancelled = a[0]["scheduler_state"] == "RUNNING" && !reason.contains("the job ended");
    assert_eq!(before, if cancelled { 2 } else { 1 }, "{events}");
    assert_eq!(exp.run(&["monitor", "--once", "--no-progress"]).code(), 0);
    let (after, events) = rule_events();
    assert_eq!(
        after, before,
        "a monitor started again decided again: {events}"
    );
}

/// Issue 11: "CUDA out of memory" printed, then exit 1 at once: the job is gone by the next
/// poll, and the rule, not `failed` → stop, decides.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn oom_line_then_exit_between_two_polls_follows_the_rule() {
    require_slurm();
    let exp = oom_once("oomexit", "");
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_rule_decided_once(&exp);
}

/// Issue 11: the same for an element of a job array.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn oom_line_then_exit_in_a_job_array_follows_the_rule() {
    require_slurm();
    let exp = oom_once_with("oomarray", "", "array = true");
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(out.stderr().contains("job array"), "{}", out.stderr());
    assert_rule_decided_once(&exp);
}

/// Issue 11: the same with no monitor running while the job prints the line and ends: the
/// monitor started afterwards reads the rest of the log from the offset stored before, and gives
/// the same answer.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn oom_line_then_exit_while_the_monitor_is_down_follows_the_rule() {
    require_slurm();
    let exp = oom_once(
        "oomdown",
        "echo loading >&2; while [ ! -e go ]; do sleep 0.2; done; ",
    );
    let monitor = exp.spawn(&["run", "exp.toml", "--no-progress"]);
    wait_until("the run to exist", Duration::from_secs(30), || {
        exp.run(&["list", "--json"]).stdout().contains("oomdown-")
    });
    let list: Vec<serde_json::Value> =
        serde_json::from_str(&exp.run(&["list", "--json"]).stdout()).unwrap();
    let run = list[0]["id"].as_str().unwrap().to_string();
    wait_until("the job to run", Duration::from_secs(60), || {
        jobs_of(&run).iter().any(|l| l.contains("|RUNNING"))
    });
    wait_until(
        "the first lines to be read",
        Duration::from_secs(60),
        || exp.column::<i64>("SELECT err_offset FROM attempts") == [8],
    );
    signal(&monitor, libc::SIGKILL);
    finish(monitor);
    exp.write("go", "");
    wait_until("the job to end", Duration::from_secs(60), || {
        !jobs_of(&run).iter().any(|l| l.contains("|RUNNING"))
    });
    let out = finish(exp.spawn(&["monitor", "--no-progress"]));
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_rule_decided_once(&exp);
}

/// Issue 11: a tqdm bar redrawn with `\r` for more than a poll's read budget (8 MiB), then the
/// rule's line while the job hangs: the tail keeps advancing and the rule fires on the running
/// job. (A time limit ends the test's job if the rule never fires.)
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn a_progress_bar_of_carriage_returns_does_not_stop_the_tail() {
    require_slurm();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "tqdm"
command = "if [ $LABTRAIL_ATTEMPT = 1 ]; then python3 -c \"import sys; [sys.stderr.write('\\r%3d%%|####      | %d/1000000 [00:01<00:10]' % (i % 100, i)) for i in range(300000)]\"; echo 'RuntimeError: CUDA out of memory' >&2; sleep 300; fi; echo ok"
{FAST}mem = "100M"
time = "1m"
[restart]
log_rules = [ {{ pattern = "CUDA out of memory", outcome = "out_of_memory" }} ]
"#
    ));
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let a = exp.attempts("main");
    assert_eq!(a.len(), 2, "{a:?}");
    assert_eq!(a[0]["outcome"], "out_of_memory", "{a:?}");
    let log = std::fs::metadata(a[0]["stderr_path"].as_str().unwrap()).unwrap();
    assert!(log.len() > 8 << 20, "the bar outgrew a poll's budget");
}

/// Issue 11: a log with bytes that are not UTF-8 (a binary progress dump, a Latin-1 file name)
/// still has its success marker.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn the_success_marker_is_found_in_a_log_that_is_not_utf8() {
    require_slurm();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "latin1"
command = "printf 'loss \\377\\376 nan\\n'; echo 'TRAINING COMPLETE'"
{FAST}
[restart]
success_marker = "TRAINING COMPLETE"
"#
    ));
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let a = exp.attempts("main");
    assert_eq!(a[0]["outcome"], "success", "{a:?}");
    let log = std::fs::read(a[0]["stdout_path"].as_str().unwrap()).unwrap();
    assert!(String::from_utf8(log).is_err(), "the log is not UTF-8");
}
