//! Issue 11, what the adversarial review of items 3–8 found, on a real SLURM cluster: a log
//! rule's verdict survives a failed accounting call; hand-resubmitted jobs that ended just
//! before a poll; a gone job's own verdict before any job with the task's name; job-array
//! elements resubmitted by hand.

mod common;
mod slurm_common;
use common::*;
use slurm_common::*;
use std::time::Duration;

/// A fault injector for a passing outage of accounting: `sacct --name` fails once when the file
/// `fail-name-once` exists next to it (and removes it); every other call is the real sacct.
fn sacct_name_fails_once(exp: &Exp) -> std::path::PathBuf {
    exp.write_executable(
        "fault-injector-sacct-name",
        r#"#!/bin/sh
flag="$(dirname "$0")/fail-name-once"
case " $* " in
  *" --name"*) if [ -e "$flag" ]; then rm -f "$flag"; echo 'sacct: error: injected: slurmdbd not answering' >&2; exit 1; fi ;;
esac
exec sacct "$@"
"#,
    )
}

/// A fault injector for the moment after a job ends when sacct still names it `allocation`
/// (real, but about a second long, so no test can time it): while the file `name-not-yet`
/// exists next to it, `sacct --name` finds nothing, as it then does; every other call is the
/// real sacct.
fn sacct_names_not_yet(exp: &Exp) -> std::path::PathBuf {
    exp.write_executable(
        "fault-injector-sacct-allocation",
        r#"#!/bin/sh
flag="$(dirname "$0")/name-not-yet"
case " $* " in
  *" --name"*) if [ -e "$flag" ]; then exit 0; fi ;;
esac
exec sacct "$@"
"#,
    )
}

/// Issue 11 (review H2): a log rule matched the tail of a job that ended between polls, and the
/// one `sacct --name` call that looks for jobs resubmitted after it failed: the poll decides
/// nothing, and the next one still sees the rule's line (out_of_memory → restart, not
/// failed → stop).
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn a_failed_name_lookup_keeps_the_log_rules_verdict() {
    require_slurm();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "rv-h2"
command = "if [ $LABTRAIL_ATTEMPT = 1 ]; then touch fail-name-once; echo 'RuntimeError: CUDA out of memory' >&2; exit 1; fi; echo {{x}} >> ledger.txt"
[params]
x = [1]
{FAST}mem = "100M"
[restart]
log_rules = [ {{ pattern = "CUDA out of memory", outcome = "out_of_memory" }} ]
"#
    ));
    let sacct = sacct_name_fails_once(&exp);
    let out = exp
        .cmd(&["run", "exp.toml", "--no-progress"])
        .env("LABTRAIL_SACCT", &sacct)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        !exp.file("fail-name-once").exists(),
        "the fault was injected"
    );
    let a = exp.attempts("x=1");
    let outcomes: Vec<&str> = a.iter().map(|x| x["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["out_of_memory", "success"], "{a:?}\n{stderr}");
    assert_eq!(exp.ledger("ledger.txt"), ["1"]);
}

/// Issue 11 (review H3): with the monitor stopped, the user cancels the task's job and submits
/// its script again; the monitor starts the moment the new job ends, while sacct still names it
/// `allocation` (played by a fault injector for the first polls) and a squeue without `-t all`
/// no longer lists it. The new job is still the task's: done with its result, not
/// cancelled → stop.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn a_resubmitted_job_that_ended_just_before_the_poll_is_the_tasks() {
    require_slurm();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "rv-h3"
command = "echo $LABTRAIL_JOB_ID >> starts.txt; while [ ! -e go ]; do sleep 0.2; done; echo '{{\"job\": \"'$LABTRAIL_JOB_ID'\"}}' > $LABTRAIL_RESULT"
{FAST}"#
    ));
    let (run, _cleanup) = run_then_kill_monitor(&exp, "the job to start", || {
        exp.ledger("starts.txt").len() == 1
    });
    let old = exp.ledger("starts.txt")[0].clone();
    sh(&format!("scancel {old}"));
    let new = resubmit_by_hand(&exp, &run);
    wait_until("the new job to start", Duration::from_secs(60), || {
        exp.ledger("starts.txt").len() == 2
    });
    exp.write("go", "");
    wait_until("the new job to end", Duration::from_secs(60), || {
        sh(&format!("squeue -h -t all -j {new},{old} -o '%i %T'"))
            .contains(&format!("{new} COMPLETED"))
    });
    exp.write("name-not-yet", "");
    let out = exp
        .cmd(&["monitor", "--no-progress"])
        .env("LABTRAIL_SACCT", sacct_names_not_yet(&exp))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let task = &exp.tasks()[0];
    assert_eq!(task["state"], "done", "{task}\n{stderr}");
    assert_eq!(task["result"], serde_json::json!({"job": new}), "{task}");
    assert_eq!(exp.ledger("starts.txt"), [old, new], "no third start");
}

/// Issue 11 (review M2): the task's job ended with a result while the monitor was down, and
/// the user submitted its script again; the monitor starts while that job runs. The ended job's
/// success is kept, and the extra job is cancelled with the reason recorded: the task does not
/// run again.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn a_success_while_down_is_kept_and_a_hand_resubmitted_job_cancelled() {
    require_slurm();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "rv-m2"
command = "echo $LABTRAIL_JOB_ID >> starts.txt; while [ ! -e go ]; do sleep 0.2; done; echo '{{\"job\": \"'$LABTRAIL_JOB_ID'\"}}' > $LABTRAIL_RESULT"
{FAST}"#
    ));
    let (run, _cleanup) = run_then_kill_monitor(&exp, "the job to start", || {
        exp.ledger("starts.txt").len() == 1
    });
    let old = exp.ledger("starts.txt")[0].clone();
    exp.write("go", "");
    wait_until("the job to end", Duration::from_secs(60), || {
        !live_jobs(&run).contains(&old)
    });
    std::fs::remove_file(exp.file("go")).unwrap();
    let new = resubmit_by_hand(&exp, &run);
    wait_until("the new job to start", Duration::from_secs(60), || {
        exp.ledger("starts.txt").len() == 2
    });
    let monitor_started = sh("date -u +%Y-%m-%dT%H:%M:%S.%3NZ").trim().to_string();
    let monitor = exp.spawn(&["monitor", "--no-progress"]);
    let ended = (0..300).any(|_| {
        std::thread::sleep(Duration::from_millis(200));
        !live_jobs(&run).contains(&new)
    });
    // Without the fix the extra job is the task's and waits for `go`: let it end.
    exp.write("go", "");
    let out = finish(monitor);
    assert!(ended, "the extra job was cancelled: {}", out.stderr());
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let task = &exp.tasks()[0];
    assert_eq!(task["state"], "done", "{task}");
    assert_eq!(task["result"], serde_json::json!({"job": old}), "{task}");
    let a = exp.attempts("main");
    let outcomes: Vec<&str> = a.iter().map(|x| x["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["success"], "{a:?}");
    // Ended while no monitor watched: dated by sacct's End, not by the monitor's clock.
    let ended_at = a[0]["ended_at"].as_str().unwrap();
    assert!(
        ended_at < monitor_started.as_str(),
        "{ended_at} {monitor_started}"
    );
    let events = exp.run(&["events", "--json"]).stdout();
    assert!(events.contains("second_job_cancelled"), "{events}");
    assert!(events.contains(&new), "{events}");
}

/// Issue 11 (review M1): a log rule decided the job's end (out_of_memory) and the monitor was
/// killed right after its `scancel`; the user then submitted the task's script again. The
/// decision is honoured (out_of_memory counted, not superseded), and the user's job is the
/// restart it asked for: no third job.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn a_decided_cancel_is_honoured_when_a_job_with_the_tasks_name_lives() {
    require_slurm();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "rv-m1"
command = "echo $LABTRAIL_JOB_ID >> starts.txt; if [ ! -e oom-once ]; then touch oom-once; echo 'RuntimeError: CUDA out of memory' >&2; sleep 300; fi; while [ ! -e go ]; do sleep 0.2; done; echo done"
{FAST}
[restart]
log_rules = [ {{ pattern = "CUDA out of memory", outcome = "out_of_memory" }} ]
"#
    ));
    let out = exp
        .cmd(&["run", "exp.toml", "--no-progress"])
        .env("LABTRAIL_FAULT", "slurm-after-scancel")
        .output()
        .unwrap();
    let run = run_id(&exp);
    let _cleanup = CancelJobsOf(run.clone());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("LABTRAIL_FAULT=slurm-after-scancel"),
        "the monitor stopped right after scancel: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let old = exp.ledger("starts.txt")[0].clone();
    wait_until("the job to end", Duration::from_secs(60), || {
        !live_jobs(&run).contains(&old)
    });
    let new = resubmit_by_hand(&exp, &run);
    wait_until("the new job to start", Duration::from_secs(60), || {
        exp.ledger("starts.txt").len() == 2
    });
    let monitor = exp.spawn(&["monitor", "--no-progress"]);
    wait_until("a second attempt", Duration::from_secs(60), || {
        exp.attempts("main").len() >= 2
    });
    exp.write("go", "");
    let out = finish(monitor);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let a = exp.attempts("main");
    let outcomes: Vec<&str> = a.iter().map(|x| x["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["out_of_memory", "success"], "{a:?}");
    // Cancelled by scancel (sacct `0:0`, or `0:15`): no exit code, which would read as a
    // clean exit (issue 11, review).
    assert_eq!(a[0]["exit_code"], serde_json::Value::Null, "{a:?}");
    assert!(
        a[1]["stdout_path"].as_str().unwrap().contains(&new),
        "{a:?}"
    );
    assert_eq!(exp.ledger("starts.txt"), [old, new], "no third job");
}

/// Issue 11 (review H1): in array mode, with the monitor stopped, the user cancels element 1 and
/// submits it again with `sbatch --array=1` of the stage's array script (its job carries the
/// array's name, not the task's); it finishes before the monitor returns. The element's task is
/// done with that job's result, and runs no third time.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn an_array_element_resubmitted_by_hand_is_its_tasks() {
    require_slurm();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "rv-h1"
command = "echo $LABTRAIL_JOB_ID >> starts.txt; while [ ! -e go ]; do sleep 0.2; done; echo '{{\"job\": \"'$LABTRAIL_JOB_ID'\"}}' > $LABTRAIL_RESULT"
[params]
x = [0, 1]
{FAST}array = true
"#
    ));
    let (run, _cleanup) = run_then_kill_monitor(&exp, "both elements to start", || {
        exp.ledger("starts.txt").len() == 2
    });
    let element: Vec<(String, String)> = exp
        .column::<String>(
            "SELECT task_key || ' ' || job_id FROM attempts WHERE substr(job_id, -2) = '_1'",
        )
        .iter()
        .map(|l| {
            let (k, j) = l.split_once(' ').unwrap();
            (k.to_string(), j.to_string())
        })
        .collect();
    let (key, old) = element[0].clone();
    sh(&format!("scancel {old}"));
    // `scancel` returns before the job is gone: a task still alive then would see `go` and
    // write its result after the user's new job (a full, loaded run showed it).
    wait_until(
        "the cancelled element to leave",
        Duration::from_secs(90),
        || !live_jobs(&run).iter().any(|j| j == &old),
    );
    let script = sh(&format!(
        "ls {}/.labtrail/runs/{run}/arrays/*.sbatch",
        exp.path().display()
    ));
    let script = script.lines().next().unwrap().to_string();
    exp.write("go", "");
    let array = sh(&format!("sbatch --parsable --array=1 {script}"))
        .trim()
        .to_string();
    let new = format!("{array}_1");
    wait_until(
        "the resubmitted element to finish",
        Duration::from_secs(90),
        || exp.ledger("starts.txt").len() == 3 && live_jobs(&run).is_empty(),
    );
    let out = exp.run(&["monitor", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let tasks = exp.tasks();
    let task = tasks.iter().find(|t| t["key"] == key.as_str()).unwrap();
    assert_eq!(task["state"], "done", "{task}\n{}", out.stderr());
    assert_eq!(task["result"], serde_json::json!({"job": new}), "{task}");
    let again = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(again.code(), 0, "{}", again.stderr());
    assert_eq!(
        exp.ledger("starts.txt").len(),
        3,
        "no third start of the element's task"
    );
}
