//! Issue 11, items 3–6: cancels decided durably, requeues and hand resubmissions that happened
//! while the monitor was down, and node failures counted against their rule, on a real SLURM
//! cluster.

mod common;
mod slurm_common;
use common::*;
use slurm_common::*;
use std::time::Duration;

/// The state sacct gives the last run of job `id`, once it shows the job's name (for a moment
/// after a job ends, sacct names it `allocation`).
fn sacct_state(id: &str) -> String {
    sh(&format!(
        "sacct -n -P -X -j {id} -o JobName,State | grep -v '^allocation|' | cut -d'|' -f2 | cut -d' ' -f1"
    ))
        .lines()
        .last()
        .unwrap_or("")
        .to_string()
}

/// A fault injector playing an `scancel` that fails once, as when the controller does not
/// answer (`Unable to contact slurm controller`), then works.
fn scancel_failing_once(exp: &Exp) -> std::path::PathBuf {
    exp.write_executable(
        "fault-injector-scancel",
        "#!/bin/sh\nflag=\"$(dirname \"$0\")/scancel_failed_once\"\nif [ ! -e \"$flag\" ]; then touch \"$flag\"; echo \"scancel: error: Kill job error on job id $1: Unable to contact slurm controller (connect failure)\" >&2; exit 8; fi\nexec scancel \"$@\"\n",
    )
}

/// Waits (at most 2 minutes) for the monitor `child` to end, sampling the queue every 100 ms:
/// its output and the most jobs of `run` seen in the queue at once (COMPLETING counts).
fn most_live_jobs_until_done(mut child: std::process::Child, run: &str) -> (Out, usize) {
    let mut most = 0;
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(120) {
        most = most.max(live_jobs(run).len());
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    (finish(child), most)
}

/// A log rule that restarts: the first attempt prints the line and keeps running.
fn log_rule_exp(name: &str) -> Exp {
    Exp::new(&format!(
        r#"
[experiment]
name = "{name}"
command = "echo $LABTRAIL_JOB_ID >> starts.txt; if [ $LABTRAIL_ATTEMPT = 1 ]; then echo 'RuntimeError: CUDA out of memory' >&2; sleep 300; fi; echo done"
{FAST}
[restart]
log_rules = [ {{ pattern = "CUDA out of memory", outcome = "out_of_memory" }} ]
"#
    ))
}

/// Issue 11, item 3: an `scancel` that fails must not be followed by a resubmission while the
/// old job lives: the job stays the task's, the trouble is reported, the cancel is retried.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn a_failing_scancel_never_leaves_two_live_jobs() {
    require_slurm();
    let exp = log_rule_exp("rq-scancel");
    let injector = scancel_failing_once(&exp);
    let child = exp
        .cmd(&["run", "exp.toml", "--no-progress"])
        .env("LABTRAIL_SCANCEL", &injector)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let run = wait_for_run(&exp);
    let _cleanup = CancelJobsOf(run.clone());
    let (out, most) = most_live_jobs_until_done(child, &run);
    assert!(
        exp.file("scancel_failed_once").exists(),
        "the injector's scancel was called"
    );
    assert!(
        most <= 1,
        "at most one live job at a time (saw {most}): {}",
        out.stderr()
    );
    let events = exp.run(&["events", "--json"]).stdout();
    assert!(
        !events.contains("second_job_cancelled"),
        "never two live jobs (none had to be cancelled as a second one): {events}"
    );
    assert!(
        live_jobs(&run).is_empty(),
        "the job of the first attempt was cancelled in the end: {:?}",
        jobs(&run)
    );
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr().contains("was not cancelled"),
        "the failed cancel was reported: {}",
        out.stderr()
    );
    let a = exp.attempts("main");
    let outcomes: Vec<&str> = a.iter().map(|x| x["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["out_of_memory", "success"], "{a:?}");
}

/// A restart decided by a cancel waits until the cancelled job has left the queue (issue 15's
/// review: it was submitted in the same poll while the old job was COMPLETING). The first job
/// saves a checkpoint on SIGTERM, which takes it 2 s (COMPLETING meanwhile; KillWait is 5 s, SIGKILL after it);
/// the restart must find that checkpoint, never run beside the old job, never take it for a
/// second copy, and keep the memory the out-of-memory rule raised (100 -> 200 MB), which a
/// restart submitted at a later poll than the one that decided it must make again.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn a_restart_waits_until_the_cancelled_job_left_the_queue() {
    require_slurm();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "rq-leaving"
command = "if [ $LABTRAIL_ATTEMPT = 1 ]; then trap 'sleep 2; echo saved > $LABTRAIL_TASK_DIR/ckpt; exit 143' TERM; echo 'RuntimeError: CUDA out of memory' >&2; while :; do sleep 0.2; done; fi; test -e $LABTRAIL_TASK_DIR/ckpt"
{FAST}mem = "100M"
[restart]
log_rules = [ {{ pattern = "CUDA out of memory", outcome = "out_of_memory" }} ]
"#
    ));
    let child = exp
        .cmd(&["run", "exp.toml", "--no-progress"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let run = wait_for_run(&exp);
    let _cleanup = CancelJobsOf(run.clone());
    let (out, most) = most_live_jobs_until_done(child, &run);
    assert!(
        most <= 1,
        "at most one job of the task in the queue at a time, COMPLETING included (saw {most}): {}",
        out.stderr()
    );
    let events = exp.run(&["events", "--json"]).stdout();
    assert!(
        !events.contains("second_job_cancelled"),
        "the cancelled job was not taken for a second copy: {events}"
    );
    assert_eq!(
        out.code(),
        0,
        "the restart found the checkpoint: {}",
        out.stderr()
    );
    let a = exp.attempts("main");
    let outcomes: Vec<&str> = a.iter().map(|x| x["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["out_of_memory", "success"], "{a:?}");
    let mems: Vec<i64> = exp.column("SELECT mem_mb FROM attempts ORDER BY number");
    assert_eq!(
        mems,
        [100, 200],
        "the restart kept the memory the rule raised"
    );
}

/// Issue 11, item 3: a monitor killed right after its `scancel` (before it recorded the
/// outcome) finds the job CANCELLED; it ends it as the log rule decided (a restart), not as
/// "cancelled → stop".
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn a_monitor_killed_right_after_scancel_restarts_as_the_log_rule_said() {
    require_slurm();
    let exp = log_rule_exp("rq-crash");
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
    let out = exp.run(&["monitor", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let a = exp.attempts("main");
    let outcomes: Vec<&str> = a.iter().map(|x| x["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["out_of_memory", "success"], "{a:?}");
    assert!(
        a[0]["reason"].as_str().unwrap().contains("log rule"),
        "{a:?}"
    );
    assert_eq!(exp.ledger("starts.txt").len(), 2, "two jobs ran, no more");
}

/// Issue 11, item 4: a job requeued (`scontrol requeue`) while the monitor is down, which
/// finishes before it returns: the task gets the result of the requeued run, read from its own
/// `-r1` folder, and the history has both runs.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn a_requeue_that_finished_while_the_monitor_was_down_keeps_both_runs() {
    require_slurm();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "rq-missed"
command = "echo $LABTRAIL_ATTEMPT >> attempts.txt; if [ $LABTRAIL_ATTEMPT = 1 ]; then sleep 300; fi; echo '{{\"run\": '$LABTRAIL_ATTEMPT'}}' > $LABTRAIL_RESULT"
{FAST}"#
    ));
    let (run, _cleanup) = run_then_kill_monitor(&exp, "the first run to start", || {
        exp.ledger("attempts.txt") == ["1"]
    });
    let job = jobs(&run)[0].0.clone();
    sh(&format!("scontrol requeue {job}"));
    wait_until(
        "the requeued run to finish",
        Duration::from_secs(90),
        || exp.ledger("attempts.txt") == ["1", "2"] && sacct_state(&job) == "COMPLETED",
    );
    let out = exp.run(&["monitor", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let a = exp.attempts("main");
    assert_eq!(a.len(), 2, "both runs are in the history: {a:?}");
    assert_eq!(a[0]["outcome"], "requeued", "{a:?}");
    assert_eq!(a[1]["outcome"], "success", "{a:?}");
    assert!(
        a[1]["stdout_path"]
            .as_str()
            .unwrap()
            .contains(&format!("job-{job}-r1")),
        "{a:?}"
    );
    let task = &exp.tasks()[0];
    assert_eq!(task["state"], "done");
    assert_eq!(
        task["result"],
        serde_json::json!({"run": 2}),
        "the requeued run's result: {task}"
    );
}

/// Issue 11, item 5 (the seed's failure modes 2.1/2.2): with the monitor stopped, the user
/// cancels the job and submits its own script again with `sbatch`; the new job finishes before
/// the monitor returns. The task is done with that job's result, and the next `run` runs
/// nothing a third time.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn a_job_resubmitted_by_hand_that_finished_while_the_monitor_was_down_is_the_tasks() {
    require_slurm();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "rq-resub"
command = "echo $LABTRAIL_JOB_ID >> starts.txt; while [ ! -e go ]; do sleep 0.2; done; echo '{{\"job\": \"'$LABTRAIL_JOB_ID'\"}}' > $LABTRAIL_RESULT"
{FAST}"#
    ));
    let (run, _cleanup) = run_then_kill_monitor(&exp, "the job to start", || {
        exp.ledger("starts.txt").len() == 1
    });
    let old = exp.ledger("starts.txt")[0].clone();
    sh(&format!("scancel {old}"));
    exp.write("go", "");
    let new = resubmit_by_hand(&exp, &run);
    wait_until(
        "the resubmitted job to finish",
        Duration::from_secs(90),
        || sacct_state(&new) == "COMPLETED",
    );
    let out = exp.run(&["monitor", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let a = exp.attempts("main");
    let outcomes: Vec<&str> = a.iter().map(|x| x["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["superseded", "success"], "{a:?}");
    assert!(a[0]["reason"].as_str().unwrap().contains(&new), "{a:?}");
    assert!(
        a[1]["stdout_path"]
            .as_str()
            .unwrap()
            .contains(&format!("job-{new}")),
        "{a:?}"
    );
    let task = &exp.tasks()[0];
    assert_eq!(task["state"], "done");
    assert_eq!(task["result"], serde_json::json!({"job": new}), "{task}");
    let again = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(again.code(), 0, "{}", again.stderr());
    assert_eq!(
        exp.ledger("starts.txt"),
        [old, new],
        "the task ran twice (the user's two jobs), never a third time"
    );
}

/// Takes the cluster's only node down (`scontrol update state=down`), as a node failure does,
/// and always brings it back, even when the test fails.
struct NodeDown(String);
impl NodeDown {
    fn now() -> NodeDown {
        let node = sh("sinfo -h -o %N").trim().to_string();
        sh(&format!(
            "scontrol update nodename={node} state=down reason=labtrail-test"
        ));
        NodeDown(node)
    }
}
impl Drop for NodeDown {
    fn drop(&mut self) {
        let _ = std::process::Command::new("scontrol")
            .args(["update", &format!("nodename={}", self.0), "state=resume"])
            .stderr(std::process::Stdio::null()) // the node may be back already
            .status();
        wait_until("the node to be back", Duration::from_secs(60), || {
            let state = sh(&format!("sinfo -h -n {} -o %t", self.0));
            !state.contains("down") && !state.contains("drain")
        });
    }
}

/// A task that runs until the file `go` exists.
fn node_exp(name: &str, rule: &str) -> Exp {
    Exp::new(&format!(
        r#"
[experiment]
name = "{name}"
command = "echo $LABTRAIL_JOB_ID >> starts.txt; while [ ! -e go ]; do sleep 0.2; done"
{FAST}
[restart]
node_fail = {rule}
"#
    ))
}

/// Issue 11, item 6: a job whose node fails is requeued by SLURM (labtrail submits with
/// `--requeue`); with `node_fail = { action = "stop" }` the requeued job is cancelled and the
/// task fails, instead of running again.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh), as root; takes its node down"]
fn a_node_failure_follows_a_node_fail_rule_that_says_stop() {
    require_slurm();
    let exp = node_exp("rq-nodestop", r#"{ action = "stop" }"#);
    let monitor = exp.spawn(&["run", "exp.toml", "--no-progress"]);
    let run = wait_for_run(&exp);
    let _cleanup = CancelJobsOf(run.clone());
    wait_until("the job to run", Duration::from_secs(60), || {
        exp.ledger("starts.txt").len() == 1
    });
    let job = exp.ledger("starts.txt")[0].clone();
    let down = NodeDown::now();
    let mut monitor = Some(monitor);
    wait_until(
        "the monitor to stop the task",
        Duration::from_secs(150),
        || matches!(monitor.as_mut().unwrap().try_wait(), Ok(Some(_))),
    );
    drop(down);
    let out = finish(monitor.take().unwrap());
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let a = exp.attempts("main");
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0]["outcome"], "node_fail", "{a:?}");
    assert!(a[0]["reason"].as_str().unwrap().contains("rule"), "{a:?}");
    assert_eq!(exp.tasks()[0]["state"], "failed");
    wait_until(
        "the requeued job to be cancelled",
        Duration::from_secs(30),
        || sacct_state(&job) == "CANCELLED",
    );
    assert_eq!(
        exp.ledger("starts.txt"),
        [job],
        "the task did not run again"
    );
}

/// Issue 11, item 6: with a restart rule, a node failure is recorded as `node_fail` (not a
/// plain requeue), counted against the rule, and the requeued job is the task's next attempt.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh), as root; takes its node down"]
fn a_node_failure_is_a_node_fail_attempt_counted_against_its_rule() {
    require_slurm();
    let exp = node_exp(
        "rq-noderestart",
        r#"{ action = "restart", max_attempts = 2 }"#,
    );
    let monitor = exp.spawn(&["run", "exp.toml", "--no-progress"]);
    let run = wait_for_run(&exp);
    let _cleanup = CancelJobsOf(run.clone());
    wait_until("the job to run", Duration::from_secs(60), || {
        exp.ledger("starts.txt").len() == 1
    });
    let job = exp.ledger("starts.txt")[0].clone();
    {
        let _down = NodeDown::now();
        wait_until(
            "the node failure to be recorded",
            Duration::from_secs(150),
            || exp.attempts("main").len() == 2,
        );
    }
    exp.write("go", "");
    let out = finish(monitor);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let a = exp.attempts("main");
    let outcomes: Vec<&str> = a.iter().map(|x| x["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["node_fail", "success"], "{a:?}");
    assert!(
        a[1]["stdout_path"]
            .as_str()
            .unwrap()
            .contains(&format!("job-{job}-r1")),
        "{a:?}"
    );
    assert_eq!(exp.ledger("starts.txt"), [job.clone(), job]);
}

/// A fault injector playing a cluster without accounting (`AccountingStorageType=none`): sacct
/// fails as it does there.
fn sacct_disabled(exp: &Exp) -> std::path::PathBuf {
    exp.write_executable(
        "fault-injector-sacct-disabled",
        "#!/bin/sh\necho 'sacct: error: Slurm accounting storage is disabled' >&2\nexit 1\n",
    )
}

/// Issue 11, item 4, without accounting: the runs of a requeue that finished while the monitor
/// was down are found from the wrapper's `-rN` folders.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn without_accounting_a_missed_requeue_is_read_from_its_folders() {
    require_slurm();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "rq-noacct"
command = "echo $LABTRAIL_ATTEMPT >> attempts.txt; if [ $LABTRAIL_ATTEMPT = 1 ]; then sleep 300; fi; echo '{{\"run\": '$LABTRAIL_ATTEMPT'}}' > $LABTRAIL_RESULT"
{FAST}"#
    ));
    let sacct = sacct_disabled(&exp);
    let monitor = exp
        .cmd(&["run", "exp.toml", "--no-progress"])
        .env("LABTRAIL_SACCT", &sacct)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let run = wait_for_run(&exp);
    let _cleanup = CancelJobsOf(run.clone());
    wait_until("the first run to start", Duration::from_secs(60), || {
        exp.ledger("attempts.txt") == ["1"]
    });
    signal(&monitor, libc::SIGKILL);
    finish(monitor);
    let job = jobs(&run)[0].0.clone();
    sh(&format!("scontrol requeue {job}"));
    wait_until(
        "the requeued run to finish",
        Duration::from_secs(90),
        || exp.ledger("attempts.txt") == ["1", "2"] && live_jobs(&run).is_empty(),
    );
    let out = exp
        .cmd(&["monitor", "--no-progress"])
        .env("LABTRAIL_SACCT", &sacct)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = exp.attempts("main");
    let outcomes: Vec<&str> = a.iter().map(|x| x["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["requeued", "success"], "{a:?}");
    assert_eq!(exp.tasks()[0]["result"], serde_json::json!({"run": 2}));
}

/// Issue 11, item 3: a second live job with the task's name (the user submitted the job's
/// script again while it runs) is cancelled, with the reason recorded, and the task keeps its
/// job.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn a_second_live_job_of_a_task_is_cancelled() {
    require_slurm();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "rq-twice"
command = "echo $LABTRAIL_JOB_ID >> starts.txt; while [ ! -e go ]; do sleep 0.2; done"
{FAST}"#
    ));
    let monitor = exp.spawn(&["run", "exp.toml", "--no-progress"]);
    let run = wait_for_run(&exp);
    let _cleanup = CancelJobsOf(run.clone());
    wait_until("the job to run", Duration::from_secs(60), || {
        exp.ledger("starts.txt").len() == 1
    });
    let key = exp.tasks()[0]["key"].as_str().unwrap().to_string();
    let script = exp.file(&format!(".labtrail/runs/{run}/attempts/{key}-1.sbatch"));
    let second = sh(&format!("sbatch --parsable {}", script.display()))
        .trim()
        .to_string();
    wait_until(
        "the second job to be cancelled",
        Duration::from_secs(60),
        || sacct_state(&second) == "CANCELLED",
    );
    exp.write("go", "");
    let out = finish(monitor);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr()
            .contains(&format!("job {second} carries the task's name")),
        "{}",
        out.stderr()
    );
    let a = exp.attempts("main");
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0]["outcome"], "success");
    let events = exp.run(&["events", "--json"]).stdout();
    assert!(events.contains("second_job_cancelled"), "{events}");
}

/// Issue 11, item 3: withdrawing a dependent whose upstream failed cancels its job durably too:
/// when that `scancel` fails, the dependent keeps its job (tried again at the next poll), and no
/// job is left waiting for ever on the failed upstream.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn a_failing_scancel_of_a_withdrawn_dependent_is_tried_again() {
    require_slurm();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "rq-withdraw"
[params]
x = [1]
[[stage]]
name = "prepare"
command = "sleep 1; [ $LABTRAIL_ATTEMPT -ge 2 ] && echo prepare >> ledger.txt"
[[stage]]
name = "train"
command = "echo train >> ledger.txt"
{FAST}
[restart]
failed = {{ action = "restart", max_attempts = 2 }}
"#
    ));
    let injector = scancel_failing_once(&exp);
    let out = exp
        .cmd(&["run", "exp.toml", "--no-progress"])
        .env("LABTRAIL_SCANCEL", &injector)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let run = run_id(&exp);
    let _cleanup = CancelJobsOf(run.clone());
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(exp.file("scancel_failed_once").exists(), "{stderr}");
    assert!(
        live_jobs(&run).is_empty(),
        "no job left waiting on the failed upstream: {:?}",
        jobs(&run)
    );
    assert_eq!(exp.ledger("ledger.txt"), ["prepare", "train"]);
    let events = exp.run(&["events", "--json"]).stdout();
    assert!(
        !events.contains("second_job_cancelled"),
        "train never had two live jobs (none had to be cancelled as a second one): {events}"
    );
    assert!(stderr.contains("was not cancelled"), "{stderr}");
    let a: Vec<serde_json::Value> = serde_json::from_str(
        &exp.run(&["tasks", "train/x=1", "--attempts", "--json"])
            .stdout(),
    )
    .unwrap();
    let outcomes: Vec<&str> = a
        .iter()
        .map(|a| a["attempt"]["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["withdrawn", "success"], "{a:?}");
}
