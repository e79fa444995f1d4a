//! Issue 3: `run --detach`, and stage dependencies that SLURM enforces without a monitor.

mod common;
mod slurm_common;
use common::*;
use slurm_common::*;
use std::time::Duration;

#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn stage_dependencies_hold_without_the_monitor() {
    require_slurm();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "stages"
[params]
layers = ["a", "b"]
rep = ["x", "y"]
[[stage]]
name = "prepare"
params = ["layers"]
command = "sleep 3; echo prepare-{{layers}} >> ledger.txt"
[[stage]]
name = "train"
command = "test -n \"$(grep prepare-{{layers}} ledger.txt)\" && echo train-{{layers}}-{{rep}} >> ledger.txt"
{FAST}"#
    ));
    // One poll submits everything; no monitor runs afterwards.
    let out = exp.run(&["run", "exp.toml", "--detach", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let pid: i32 = out
        .stderr()
        .split("(PID ")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .and_then(|s| s.parse().ok())
        .expect("the detached monitor's PID is printed");
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert!(
        out.stderr().contains("after "),
        "train jobs were submitted with afterok dependencies: {}",
        out.stderr()
    );
    wait_until(
        "all six tasks to run under SLURM alone",
        Duration::from_secs(90),
        || exp.ledger("ledger.txt").len() == 6,
    );
    let ledger = exp.ledger("ledger.txt");
    for layers in ["a", "b"] {
        let prep = ledger
            .iter()
            .position(|l| *l == format!("prepare-{layers}"))
            .unwrap();
        for rep in ["x", "y"] {
            let train = ledger
                .iter()
                .position(|l| *l == format!("train-{layers}-{rep}"))
                .unwrap();
            assert!(prep < train, "{ledger:?}");
        }
    }
    // A monitor started later finds everything finished and records it.
    let out = exp.run(&["monitor", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_eq!(exp.count("done"), 6);
}

#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn detached_monitor_finishes_the_run() {
    require_slurm();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "detached"
command = "sleep 1; echo '{{\"x\": {{x}}}}' > $LABTRAIL_RESULT"
[params]
x = [1, 2, 3]
{FAST}"#
    ));
    let out = exp.run(&["run", "exp.toml", "--detach"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr().contains("monitor started in the background"),
        "{}",
        out.stderr()
    );
    wait_until(
        "the detached monitor to finish the run",
        Duration::from_secs(60),
        || exp.count("done") == 3,
    );
    let log = exp.run_dir().join("monitor.log");
    wait_until(
        "the monitor to write its summary",
        Duration::from_secs(20),
        || {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains("3/3 done")
        },
    );
    let second = exp.run(&["monitor"]);
    assert_eq!(
        second.code(),
        0,
        "re-attaching to a finished run is harmless: {}",
        second.stderr()
    );
}

#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn restarted_upstream_gets_its_dependents_resubmitted() {
    require_slurm();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "uprestart"
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
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(out.stderr().contains("withdrawn"), "{}", out.stderr());
    assert_eq!(exp.ledger("ledger.txt"), ["prepare", "train"]);
    let attempts: Vec<serde_json::Value> = serde_json::from_str(
        &exp.run(&["tasks", "train/x=1", "--attempts", "--json"])
            .stdout(),
    )
    .unwrap();
    let outcomes: Vec<&str> = attempts
        .iter()
        .map(|a| a["attempt"]["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["withdrawn", "success"],
        "the job that waited on the failed upstream was withdrawn, not failed"
    );
}
