//! Helpers for tests against the real SLURM cluster that `scripts/slurm-up.sh` starts.
//! Those tests are `#[ignore]`d so that, without a cluster, they report as ignored (not passed);
//! `scripts/test.sh` runs them with `--ignored` when the cluster is up.
#![allow(dead_code)]

use crate::common::{wait_until, Exp};
use std::process::Command;
use std::time::Duration;

/// Panics with a clear message when no cluster answers (the test was asked for explicitly).
pub fn require_slurm() {
    let ok = Command::new("sinfo")
        .arg("-h")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "no SLURM cluster answers `sinfo`: start one with `sudo bash scripts/slurm-up.sh`"
    );
}

/// Runs a shell command, returns stdout; panics on failure.
pub fn sh(cmd: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(cmd).output().expect("sh");
    assert!(
        out.status.success(),
        "`{cmd}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `[run]` + `[slurm]` lines for fast test polling.
pub const FAST: &str = r#"
[run]
executor = "slurm"
[slurm]
poll_min = "500ms"
poll_max = "2s"
lost_after = "20s"
"#;

/// squeue lines of the jobs named like the run's tasks.
pub fn jobs_of(run: &str) -> Vec<String> {
    sh(&format!(
        "squeue -h -r -O 'JobArrayID:|,Name:|,State:|' | grep '|lt.{run}.' || true"
    ))
    .lines()
    .map(str::to_string)
    .collect()
}

pub fn wait_secs(s: u64) {
    std::thread::sleep(Duration::from_secs(s));
}

/// The id of the store's latest run.
pub fn run_id(exp: &Exp) -> String {
    let list: Vec<serde_json::Value> =
        serde_json::from_str(&exp.run(&["list", "--json"]).stdout()).unwrap();
    list.last().unwrap()["id"].as_str().unwrap().to_string()
}

/// Waits for the run to exist and returns its id.
pub fn wait_for_run(exp: &Exp) -> String {
    wait_until("the run to exist", Duration::from_secs(30), || {
        exp.file(".labtrail/labtrail.db").exists()
            && exp.run(&["list", "--json"]).stdout().contains("\"id\"")
    });
    run_id(exp)
}

/// (job id, state) of the run's jobs squeue shows.
pub fn jobs(run: &str) -> Vec<(String, String)> {
    jobs_of(run)
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            (f[0].to_string(), f[2].to_string())
        })
        .collect()
}

/// The run's jobs squeue shows that have not ended.
pub fn live_jobs(run: &str) -> Vec<String> {
    jobs(run)
        .into_iter()
        .filter(|(_, s)| {
            !matches!(
                s.as_str(),
                "COMPLETED" | "FAILED" | "CANCELLED" | "TIMEOUT" | "NODE_FAIL" | "OUT_OF_MEMORY"
            )
        })
        .map(|(id, _)| id)
        .collect()
}

/// Cancels whatever the test's run left in the queue, even when the test fails.
pub struct CancelJobsOf(pub String);
impl Drop for CancelJobsOf {
    fn drop(&mut self) {
        for id in live_jobs(&self.0) {
            let _ = std::process::Command::new("scancel").arg(&id).status();
        }
    }
}

/// The crash point right after `sbatch` returned a job id, before it is committed.
pub const AFTER_SBATCH: &str = "slurm-after-sbatch";

/// Runs `labtrail run exp.toml` with the crash point [`AFTER_SBATCH`]: the monitor dies right
/// after its first `sbatch` is accepted, before the job is recorded (what a crash, an OOM kill or
/// a lost login node does at the worst moment). Panics unless it died there.
pub fn run_until_crash_after_sbatch(exp: &Exp) {
    let out = exp
        .cmd(&["run", "exp.toml", "--no-progress"])
        .env("LABTRAIL_FAULT", AFTER_SBATCH)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(AFTER_SBATCH),
        "the monitor died at the crash point: {stderr}"
    );
}

/// Starts `labtrail run exp.toml`, waits (up to a minute) until `started` holds, then SIGKILLs
/// the monitor, so that what follows happens while no monitor watches the run's live jobs.
/// Returns the run id and a guard that cancels the run's jobs when the test ends.
pub fn run_then_kill_monitor(
    exp: &Exp,
    what: &str,
    started: impl FnMut() -> bool,
) -> (String, CancelJobsOf) {
    let monitor = exp.spawn(&["run", "exp.toml", "--no-progress"]);
    let run = wait_for_run(exp);
    let cleanup = CancelJobsOf(run.clone());
    wait_until(what, Duration::from_secs(60), started);
    crate::common::signal(&monitor, libc::SIGKILL);
    crate::common::finish(monitor);
    (run, cleanup)
}

/// Submits the attempt-1 script of the run's only task again, as a user does; returns the new
/// job's id.
pub fn resubmit_by_hand(exp: &Exp, run: &str) -> String {
    let key = exp.tasks()[0]["key"].as_str().unwrap().to_string();
    let script = exp.file(&format!(".labtrail/runs/{run}/attempts/{key}-1.sbatch"));
    sh(&format!("sbatch --parsable {}", script.display()))
        .trim()
        .to_string()
}
