//! Issue 3 against a real SLURM cluster: a grid completes, arrays are throttled, time limits and
//! failures follow the restart policy, log rules fire exactly once, requeues are attempts.

mod common;
mod slurm_common;
use common::*;
use slurm_common::*;
use std::time::Duration;

#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn ten_task_grid_completes() {
    require_slurm();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "grid10"
command = "echo {{x}} >> ledger.txt; echo '{{\"x\": {{x}}}}' > $LABTRAIL_RESULT"
[params]
x = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
{FAST}"#
    ));
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_eq!(exp.count("done"), 10);
    let mut ledger = exp.ledger("ledger.txt");
    ledger.sort();
    assert_eq!(ledger.len(), 10, "each task ran once");
    let a = exp.attempts("x=3");
    assert_eq!(a.len(), 1);
    assert!(
        a[0]["stdout_path"].as_str().unwrap().contains("-job-"),
        "log paths are stored resolved: {}",
        a[0]["stdout_path"]
    );
    let results = exp.run(&["results", "--format", "jsonl"]).stdout();
    assert_eq!(results.lines().count(), 10);
}

#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn job_array_with_throttle() {
    require_slurm();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "arr"
command = "date +%s.%N >> starts.txt; sleep 2; date +%s.%N >> ends.txt"
[params]
x = [0, 1, 2, 3, 4, 5]
{FAST}array = true
max_running = 2
"#
    ));
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(out.stderr().contains("job array"), "{}", out.stderr());
    assert!(
        out.stderr().contains("at most 2 at once"),
        "{}",
        out.stderr()
    );
    assert_eq!(exp.count("done"), 6);
    // Never more than 2 running at once: sweep the start/end times.
    let starts: Vec<f64> = exp
        .ledger("starts.txt")
        .iter()
        .map(|l| l.parse().unwrap())
        .collect();
    let ends: Vec<f64> = exp
        .ledger("ends.txt")
        .iter()
        .map(|l| l.parse().unwrap())
        .collect();
    let mut events: Vec<(f64, i32)> = starts
        .iter()
        .map(|s| (*s, 1))
        .chain(ends.iter().map(|e| (*e, -1)))
        .collect();
    events.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let (mut now, mut peak) = (0, 0);
    for (_, d) in events {
        now += d;
        peak = peak.max(now);
    }
    assert!(peak <= 2, "the throttle held: peak {peak} concurrent tasks");
    let a = exp.attempts("x=4");
    assert!(
        a[0]["stdout_path"].as_str().unwrap().contains("_4/"),
        "array element ids are stored: {}",
        a[0]["stdout_path"]
    );
}

#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn failing_task_stops_after_its_attempts() {
    require_slurm();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "fails"
command = "echo attempt $LABTRAIL_ATTEMPT >&2; exit 3"
{FAST}
[restart]
failed = {{ action = "restart", max_attempts = 2 }}
"#
    ));
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let a = exp.attempts("main");
    assert_eq!(a.len(), 2, "{a:?}");
    assert!(
        a.iter()
            .all(|x| x["outcome"] == "failed" && x["exit_code"] == 3),
        "{a:?}"
    );
    assert_eq!(exp.count("failed"), 1);
    let events = exp.run(&["events"]).stdout();
    assert!(
        events.contains("decision: restart") && events.contains("decision: stop"),
        "{events}"
    );
}

#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn time_limit_restarts_with_a_longer_limit_then_completes() {
    require_slurm();
    // SLURM's smallest time limit is one minute; the first attempt outlives it.
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "timeout"
command = "if [ $LABTRAIL_ATTEMPT = 1 ]; then sleep 300; fi; echo ok"
{FAST}time = "1m"
[restart]
timeout = {{ action = "restart", max_attempts = 3, time_factor = 2 }}
"#
    ));
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let a = exp.attempts("main");
    assert_eq!(a.len(), 2, "{a:?}");
    assert_eq!(a[0]["outcome"], "timeout");
    assert_eq!(a[1]["outcome"], "success");
    let limits: Vec<i64> = exp.column("SELECT time_limit_s FROM attempts ORDER BY number");
    assert_eq!(limits, [60, 120], "the restart doubled the time limit");
    let attempts = std::path::Path::new(a[1]["stdout_path"].as_str().unwrap())
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let key = a[1]["task_key"].as_str().unwrap();
    let script = std::fs::read_to_string(attempts.join(format!("{key}-2.sbatch"))).unwrap();
    assert!(script.contains("#SBATCH --time=0-00:02:00"), "{script}");
}

/// A job that hangs after the rule's line (as a training does whose NCCL peer died): the rule
/// fires on the running job, which is cancelled. The usual case, a job that prints the line and
/// exits at once, is in tests/slurm_logs.rs (issue 11).
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn log_rule_fires_exactly_once_across_monitor_restarts() {
    require_slurm();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "logrule"
command = "echo step 1; if [ $LABTRAIL_ATTEMPT = 1 ]; then echo 'RuntimeError: CUDA out of memory' >&2; sleep 300; fi; echo done"
{FAST}mem = "100M"
[restart]
log_rules = [ {{ pattern = "CUDA out of memory", outcome = "out_of_memory" }} ]
"#
    ));
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let a = exp.attempts("main");
    assert_eq!(a.len(), 2, "{a:?}");
    assert_eq!(a[0]["outcome"], "out_of_memory");
    assert!(
        a[0]["reason"].as_str().unwrap().contains("log rule"),
        "{a:?}"
    );
    let mems: Vec<i64> = exp.column("SELECT mem_mb FROM attempts ORDER BY number");
    assert_eq!(mems, [100, 200], "out_of_memory doubled the memory");
    // A monitor started again reads nothing twice: no new decisions.
    // Decisions are `finished` events (the `cancelling` event before the scancel says the same).
    let decisions = || {
        let events: Vec<serde_json::Value> =
            serde_json::from_str(&exp.run(&["events", "--json"]).stdout()).unwrap();
        events
            .iter()
            .filter(|e| e["kind"] == "finished" && e.to_string().contains("log rule"))
            .count()
    };
    let before = decisions();
    assert_eq!(exp.run(&["monitor", "--once", "--no-progress"]).code(), 0);
    let after = decisions();
    assert_eq!(before, after);
    assert_eq!(before, 1, "the rule fired once");
}

#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn requeue_is_an_attempt_of_its_own() {
    require_slurm();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "requeue"
command = "echo $LABTRAIL_ATTEMPT >> attempts.txt; if [ -e $LABTRAIL_TASK_DIR/ckpt ]; then echo resumed >> attempts.txt; fi; touch $LABTRAIL_TASK_DIR/ckpt; if [ $LABTRAIL_ATTEMPT = 1 ]; then sleep 300; fi"
{FAST}"#
    ));
    let child = exp.spawn(&["run", "exp.toml", "--no-progress"]);
    wait_until(
        "the first attempt to start",
        Duration::from_secs(60),
        || exp.ledger("attempts.txt") == ["1"],
    );
    let job = jobs_of(
        exp.run(&["list", "--json"])
            .stdout()
            .split('"')
            .nth(3)
            .unwrap(),
    )[0]
    .split('|')
    .next()
    .unwrap()
    .to_string();
    sh(&format!("scontrol requeue {job}"));
    let out = finish(child);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let a = exp.attempts("main");
    assert_eq!(a.len(), 2, "{a:?}");
    assert_eq!(a[0]["outcome"], "requeued");
    assert_eq!(a[1]["outcome"], "success");
    assert_eq!(a[0]["task_key"], a[1]["task_key"]);
    assert!(
        a[1]["stdout_path"]
            .as_str()
            .unwrap()
            .contains(&format!("job-{job}-r1")),
        "{a:?}"
    );
    assert_eq!(
        exp.ledger("attempts.txt"),
        ["1", "2", "resumed"],
        "the requeued job saw LABTRAIL_ATTEMPT=2 and its own checkpoint in LABTRAIL_TASK_DIR"
    );
}

#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn warning_signal_reaches_the_task() {
    require_slurm();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "usr1"
command = "python3 -c \"import signal, time, os\nsignal.signal(signal.SIGUSR1, lambda *a: (open('warned', 'w').write(os.environ['LABTRAIL_ATTEMPT']), exit(0)))\nopen('ready', 'w').close()\ntime.sleep(300)\""
{FAST}signal = "B:USR1@90"
"#
    ));
    let child = exp.spawn(&["run", "exp.toml", "--no-progress"]);
    wait_until("the task to be ready", Duration::from_secs(60), || {
        exp.file("ready").exists()
    });
    let run: Vec<serde_json::Value> =
        serde_json::from_str(&exp.run(&["list", "--json"]).stdout()).unwrap();
    let job = jobs_of(run[0]["id"].as_str().unwrap())[0]
        .split('|')
        .next()
        .unwrap()
        .to_string();
    // What SLURM does 90 s before the time limit with --signal=B:USR1@90: signal the batch shell.
    sh(&format!("scancel --signal=USR1 --batch {job}"));
    let out = finish(child);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_eq!(
        std::fs::read_to_string(exp.file("warned")).unwrap(),
        "1",
        "the wrapper forwarded USR1 to the task"
    );
    let run_dir = exp.run_dir();
    let submitted = std::fs::read_dir(run_dir.join("attempts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("-1.sbatch"))
        .expect("the job script of attempt 1");
    assert!(std::fs::read_to_string(submitted)
        .unwrap()
        .contains("#SBATCH --signal=B:USR1@90"));
}
