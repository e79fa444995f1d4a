//! Benchmark (not a test): the cost of one monitor poll with 100,000 tracked SLURM jobs (or
//! as many as the first argument says).
//!
//! squeue and sacct are replaced by recorded output (through LABTRAIL_SQUEUE / LABTRAIL_SACCT),
//! so this measures labtrail's own work per poll: calling the scheduler commands, parsing their
//! output, reconciling, deciding and committing. Run: `cargo run --release --example poll_bench [JOBS [FINISHING]]`;
//! FINISHING jobs (1,000 unless given) end between polls 2 and 3. Issue 15 asks for at most 2 scheduler calls and 500 ms
//! of labtrail's own time per poll at 10^5 tracked jobs: "own ms" is the poll's time less the
//! time spent waiting for the scheduler commands.

use labtrail::engine::slurm::Monitor;
use labtrail::exec::slurm::script::attempt_dir;
use labtrail::exec::slurm::Scheduler;
use labtrail::progress::Reporter;
use labtrail::spec::Spec;
use labtrail::store::{JobChange, Store};
use std::sync::atomic::Ordering;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let jobs: usize = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 100_000,
    };
    let finishing: usize = match std::env::args().nth(2) {
        Some(n) => n.parse()?,
        None => 1_000,
    };
    let dir = tempfile::tempdir()?;
    let values: Vec<String> = (0..jobs).map(|i| i.to_string()).collect();
    let text = format!(
        "[experiment]\nname = \"pollbench\"\ncommand = \"true {{i}}\"\n[params]\ni = [{}]\n[run]\nexecutor = \"slurm\"\n",
        values.join(", ")
    );
    let spec = Spec::parse(&dir.path().join("exp.toml"), text)?;
    let plan = labtrail::plan::expand(&spec);
    let mut store = Store::open(&dir.path().join(".labtrail"), true)?;
    store.create_run("bench", &spec.name, "exp.toml", &spec.source)?;
    store.set_executor("bench", "slurm")?;
    store.sync_plan("bench", &plan.hash, || plan.store_rows(&spec))?;
    let folders = store.folders("bench")?;
    let submitted: Vec<JobChange> = plan
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| JobChange::Submitted {
            key: t.key.to_string(),
            attempt: 1,
            job_id: (100_000 + i).to_string(),
            host: "login".into(),
            // Where the monitor puts a job's files: in the store, so stored relative to it.
            stdout: attempt_dir(
                &folders.attempt_prefix(&t.key),
                &(100_000 + i).to_string(),
                0,
            )
            .join("stdout.log")
            .display()
            .to_string(),
            stderr: attempt_dir(
                &folders.attempt_prefix(&t.key),
                &(100_000 + i).to_string(),
                0,
            )
            .join("stderr.log")
            .display()
            .to_string(),
            time_limit_s: None,
            mem_mb: None,
            how: labtrail::store::Submission::Submitted,
        })
        .collect();
    store.apply_all("bench", &[], &submitted)?;

    // Recorded scheduler output: every job running (polls 1, 2); then FINISHING of them completed,
    // listed as ended by squeue and reported by sacct (poll 3). 2,000 jobs of other users are listed too.
    // Every field of SQUEUE_FORMAT, as squeue prints them, the job working in the run's folder.
    let workdir = dir.path().join(".labtrail/runs/bench/attempts");
    let line = |i: usize, state: &str| {
        format!(
            "{id}\x1f{id}\x1flt.bench.{key}\x1f{state}\x1fNone\x1fnode{node}\x1f0\x1f2026-11-23T10:00:00\x1flabtrail:bench:{key}:1:0123abcd\x1f{wd}/slurm.log\x1f{wd}\x1f2026-11-23T09:59:00\x1f1:00:00\x1f4G\x1fdebug\x1f1:00\x1fbench\x1f",
            key = plan.tasks[i].key,
            node = i % 64,
            id = 100_000 + i,
            wd = workdir.display()
        )
    };
    let others: String = (0..2_000).map(|i| format!("{id}\x1f{id}\x1fsomeone-else\x1fRUNNING\x1fNone\x1fnodeX\x1f0\x1fN/A\x1f(null)\x1f\x1f\x1f\x1f\x1f\x1f\x1f\x1fother\x1f\n", id = 900_000 + i)).collect();
    let all_running: String = (0..jobs)
        .map(|i| line(i, "RUNNING") + "\n")
        .collect::<String>()
        + &others;
    // squeue -t all: the jobs that ended are still listed, as COMPLETED, until MinJobAge.
    let some_done: String = (0..jobs)
        .map(|i| {
            line(
                i,
                if i < finishing {
                    "COMPLETED"
                } else {
                    "RUNNING"
                },
            ) + "\n"
        })
        .collect::<String>()
        + &others;
    let sacct: String = (0..finishing)
        .map(|i| {
            // The job's line and its two steps' lines (sacct without -X), every SACCT_FORMAT field.
            format!(
                "{id}|{id}|lt.bench.{key}|COMPLETED|0:0|2026-11-23T09:59:00|2026-11-23T10:00:00|2026-11-23T10:05:00|node1|01:00:00|4G||00:02:01|00:02:00|00:00:01|00:05:00|billing=1,cpu=1,mem=4G,node=1|{wd}\n\
                 {id}.batch|{id}.batch|batch|COMPLETED|0:0|2026-11-23T10:00:00|2026-11-23T10:00:00|2026-11-23T10:05:00|node1|||812345K|00:02:01|00:02:00|00:00:01|00:05:00|cpu=1,mem=4G,node=1|\n\
                 {id}.extern|{id}.extern|extern|COMPLETED|0:0|2026-11-23T10:00:00|2026-11-23T10:00:00|2026-11-23T10:05:00|node1|||1024K|00:00:00|00:00:00|00:00:00|00:05:00|billing=1,cpu=1,mem=4G,node=1|\n",
                id = 100_000 + i,
                key = plan.tasks[i].key,
                wd = workdir.display()
            )
        })
        .collect();
    for (name, body) in [
        ("squeue1.txt", &all_running),
        ("squeue2.txt", &some_done),
        ("sacct.txt", &sacct),
    ] {
        std::fs::write(dir.path().join(name), body)?;
    }
    let fake = |name: &str, file: &str| -> anyhow::Result<String> {
        let p = dir.path().join(name);
        std::fs::write(
            &p,
            format!("#!/bin/sh\nexec cat {}\n", dir.path().join(file).display()),
        )?;
        std::process::Command::new("chmod")
            .arg("+x")
            .arg(&p)
            .status()?;
        Ok(p.display().to_string())
    };
    let rep = Reporter::new(false, true, jobs as u64, 0);
    let base = dir.path().to_path_buf();
    println!("monitor poll with {jobs} tracked jobs (+2,000 other users' jobs in squeue), recorded scheduler output");
    println!(
        "{:<44} {:>13} {:>9} {:>9} {:>8} {:>9}",
        "poll", "sched. calls", "total ms", "sched. ms", "own ms", "parse ms"
    );
    let finished = format!("3: {finishing} finished (squeue + one sacct)");
    // One monitor for the three polls, as `labtrail monitor` keeps one: what it keeps between
    // polls counts (issue 15). Each poll's squeue answer is copied where the fake squeue reads it.
    std::env::set_var("LABTRAIL_SQUEUE", fake("squeue", "squeue.txt")?);
    std::env::set_var("LABTRAIL_SACCT", fake("sacct", "sacct.txt")?);
    let sched = Scheduler::new();
    let mut mon = Monitor::new(&mut store, "bench", &spec, &plan, &sched, base.clone()).unwrap();
    for (label, squeue_file) in [
        ("1: all running (squeue only)", "squeue1.txt"),
        ("2: all running again (steady state)", "squeue1.txt"),
        (finished.as_str(), "squeue2.txt"),
    ] {
        std::fs::copy(dir.path().join(squeue_file), dir.path().join("squeue.txt"))?;
        sched.calls.store(0, Ordering::Relaxed);
        sched.waited_us.store(0, Ordering::Relaxed);
        let text = std::fs::read_to_string(dir.path().join(squeue_file))?;
        let t = Instant::now();
        let parsed = labtrail::exec::slurm::parse_squeue(&text);
        let parse_ms = t.elapsed().as_secs_f64() * 1e3;
        assert!(parsed.len() >= jobs - finishing);
        let t = Instant::now();
        let outcome = mon.poll(&rep)?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        assert!(outcome.scheduler_trouble.is_none(), "{outcome:?}");
        let sched_ms = sched.waited_us.load(Ordering::Relaxed) as f64 / 1e3;
        println!(
            "{label:<44} {:>13} {ms:>9.1} {sched_ms:>9.1} {:>8.1} {parse_ms:>9.1}",
            sched.calls.load(Ordering::Relaxed),
            ms - sched_ms
        );
    }
    drop(mon);
    let done = store
        .task_states("bench")?
        .values()
        .filter(|s| s.0 == labtrail::store::TaskState::Done)
        .count();
    println!("tasks recorded done after poll 3: {done} (expected {finishing})");
    anyhow::ensure!(done == finishing, "the finished jobs were not all recorded");
    Ok(())
}
