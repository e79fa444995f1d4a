//! Helpers for tests against the real SLURM cluster that `scripts/slurm-up.sh` starts.
//! Those tests are `#[ignore]`d so that, without a cluster, they report as ignored (not passed);
//! `scripts/test.sh` runs them with `--ignored` when the cluster is up.
#![allow(dead_code)]

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
