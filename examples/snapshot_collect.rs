//! Takes a snapshot's contents without writing it (`snapshot::collect`), and prints how long
//! it took and, with `--json`, the snapshot: what `bench/snapshot_cost.sh` times, and a way to
//! look at what a configuration collects.
//!
//!     cargo run --example snapshot_collect -- DIR [--jobs mine|all|REGEX] [--repeat N]
//!         [--between SHELL-COMMAND] [--json]
//!
//! `--between` runs a command between two snapshots (the bench cancels its jobs there, so that
//! the next snapshot asks sacct about them).

use labtrail::exec::slurm::Scheduler;
use labtrail::snapshot::collect::collect;
use labtrail::snapshot::config::{job_scope, ConfigOverrides, SnapshotConfig};
use std::sync::atomic::Ordering;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut dir = None;
    let (mut overrides, mut repeat, mut json) = (ConfigOverrides::default(), 1, false);
    let mut between: Option<String> = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--jobs" => {
                let v = args.next().unwrap_or_default();
                overrides.jobs = Some(job_scope(&v).map_err(anyhow::Error::msg)?);
            }
            "--repeat" => repeat = args.next().unwrap_or_default().parse()?,
            "--json" => json = true,
            "--between" => between = args.next(),
            _ => dir = Some(std::path::PathBuf::from(a)),
        }
    }
    let dir = dir.unwrap_or_else(|| "experiment_snapshots".into());
    let cfg = SnapshotConfig::load(&dir, &overrides)?;
    let mut previous = None;
    for i in 0..repeat {
        if let (Some(cmd), true) = (&between, i > 0) {
            std::process::Command::new("sh")
                .args(["-c", cmd])
                .status()?;
        }
        let sched = Scheduler::new();
        let started = Instant::now();
        let snap = collect(&cfg, previous.as_ref(), &sched);
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        eprintln!(
            "collect: {ms:.0} ms, {} jobs, {} ended, {} scheduler calls (squeue {}, sacct {}), status {}",
            snap.running_jobs.len(),
            snap.ended_jobs.len(),
            sched.calls.load(Ordering::Relaxed),
            snap.scheduler.squeue_calls,
            snap.scheduler.sacct_calls,
            snap.scheduler.status
        );
        if json {
            println!("{}", serde_json::to_string_pretty(&snap)?);
        }
        previous = Some(snap);
    }
    Ok(())
}
