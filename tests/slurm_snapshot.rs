//! Issue 13: what a snapshot collects on the real cluster: one squeue call and at most one
//! sacct call per snapshot, jobs of other names and of another user in the queue too, a held
//! array of many elements, a job that ends between two snapshots, and the job scopes.

mod common;
mod slurm_common;
use labtrail::exec::slurm::Scheduler;
use labtrail::snapshot::collect::collect;
use labtrail::snapshot::config::{ConfigOverrides, JobScope, SnapshotConfig};
use labtrail::snapshot::model::{Job, Snapshot};
use slurm_common::*;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Cancels the test's jobs, even when it fails.
struct Cancel(Vec<String>);
impl Drop for Cancel {
    fn drop(&mut self) {
        for id in &self.0 {
            let _ = std::process::Command::new("scancel").arg(id).status();
        }
    }
}

fn sbatch(args: &str) -> String {
    sh(&format!(
        "sbatch --parsable -o /dev/null -e /dev/null --mem=20M {args}"
    ))
    .trim()
    .split(';')
    .next()
    .unwrap()
    .to_string()
}

/// Takes one snapshot; returns it with the scheduler commands it ran.
fn snap(cfg: &SnapshotConfig, previous: Option<&Snapshot>) -> (Snapshot, u64) {
    let sched = Scheduler::new();
    let s = collect(cfg, previous, &sched);
    (s, sched.calls.load(Ordering::Relaxed))
}

fn ours<'a>(s: &'a Snapshot, tag: &str) -> Vec<&'a Job> {
    s.running_jobs
        .iter()
        .filter(|j| j.name.contains(tag))
        .collect()
}

/// Issue 13: one squeue per snapshot, and one sacct only when a job of the previous snapshot is
/// gone; a held array's elements one by one with their reason; a job that ended between two
/// snapshots is in `ended_jobs` with sacct's state and exit code; `mine` leaves out another
/// user's job, `all` has it, a name pattern keeps only matching names; jobs are grouped into
/// experiments by the configured rule, the rest into `other`.
#[test]
#[ignore]
fn snapshots_of_a_busy_queue() {
    require_slurm();
    let tag = format!("lts{}", std::process::id());
    let exp = common::Exp::new("");
    std::fs::set_permissions(
        exp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    exp.write(
        "labtrail.toml",
        &format!("[snapshot]\n[snapshot.experiments.tagged]\njobs = \"^{tag}_\"\n"),
    );
    let dir = exp.path().to_path_buf();
    let d = dir.display();
    let mut cancel = Cancel(Vec::new());
    cancel
        .0
        .push(sbatch(&format!("-J {tag}_run -D {d} --wrap 'sleep 300'")));
    cancel
        .0
        .push(sbatch(&format!("-J other_{tag} -D {d} --wrap 'sleep 300'")));
    let array = sbatch(&format!(
        "-J {tag}_arr -D {d} -H --array=0-199 --wrap 'sleep 1'"
    ));
    cancel.0.push(array.clone());
    cancel.0.push(sbatch(&format!(
        "-J {tag}_nobody -D /tmp --uid=65534 --gid=65534 --wrap 'sleep 300'"
    )));
    let short = sbatch(&format!("-J {tag}_short -D {d} --wrap 'sleep 4; exit 3'"));
    cancel.0.push(short.clone());

    let load = |jobs: Option<JobScope>| {
        let o = ConfigOverrides {
            jobs,
            ..ConfigOverrides::default()
        };
        SnapshotConfig::load(&dir.join("experiment_snapshots"), &o).unwrap()
    };
    let mine = load(None);
    // The first snapshot in which the short job runs.
    let deadline = Instant::now() + Duration::from_secs(120);
    let first = loop {
        let (s, calls) = snap(&mine, None);
        assert_eq!(
            calls, 1,
            "one squeue call, no sacct without a previous snapshot"
        );
        assert_eq!((s.scheduler.squeue_calls, s.scheduler.sacct_calls), (1, 0));
        let running = |name: &str| {
            ours(&s, &tag)
                .iter()
                .any(|j| j.name == name && j.state == "R")
        };
        if running(&format!("{tag}_short")) && running(&format!("{tag}_run")) {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "jobs did not start: {:?}",
            ours(&s, &tag)
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(first.scheduler.status, "slurm");
    assert_eq!(first.scheduler.scope, "mine");
    let jobs = ours(&first, &tag);
    assert!(
        !jobs.iter().any(|j| j.name.ends_with("_nobody")),
        "another user's job"
    );
    let elements: Vec<&&Job> = jobs.iter().filter(|j| j.name.ends_with("_arr")).collect();
    assert_eq!(elements.len(), 200, "each element of the held array");
    let e = elements
        .iter()
        .find(|j| j.array_task_id.as_deref() == Some("7"))
        .unwrap();
    assert_eq!(e.job_id, format!("{array}_7"));
    assert_eq!(e.array_job_id.as_deref(), Some(array.as_str()));
    assert_eq!((e.state.as_str(), e.state_long.as_str()), ("PD", "PENDING"));
    assert_eq!(e.node, "(JobHeldUser)");
    assert_eq!(e.start_time, None);
    assert!(e.submit_time.is_some());
    let run = jobs
        .iter()
        .find(|j| j.name == format!("{tag}_run"))
        .unwrap();
    assert_eq!(run.node, "vm");
    assert_eq!(run.partition.as_deref(), Some("debug"));
    assert!(
        run.start_time.as_deref().is_some_and(|t| t.len() == 25),
        "{run:?}"
    );
    assert!(run.time.contains(':'));
    assert_eq!(run.experiment.as_deref(), Some("tagged"));
    let other = first
        .running_jobs
        .iter()
        .find(|j| j.name == format!("other_{tag}"))
        .unwrap();
    assert_eq!(other.experiment, None);
    assert!(first
        .experiments
        .iter()
        .any(|x| x.name == "other" && x.active));
    let tagged = first
        .experiments
        .iter()
        .find(|x| x.name == "tagged")
        .unwrap();
    assert_eq!(tagged.queued_jobs, 202);
    assert!(first.counts.pending >= 200 && first.counts.running >= 3);

    // The short job ends (exit 3): the next snapshot asks sacct once, about the gone jobs only.
    wait_until_gone(&short);
    // The exit code comes from accounting, which may learn of the end a moment after squeue.
    common::wait_until("sacct knows the end", Duration::from_secs(60), || {
        sh(&format!("sacct -n -X -j {short} -o State")).trim() == "FAILED"
    });
    let (second, calls) = snap(&mine, Some(&first));
    assert_eq!(calls, 2, "one squeue and one sacct");
    assert_eq!(
        (second.scheduler.squeue_calls, second.scheduler.sacct_calls),
        (1, 1)
    );
    assert!(second.scheduler.accounting);
    let ended = second
        .ended_jobs
        .iter()
        .find(|j| j.job_id == short)
        .unwrap();
    assert_eq!(ended.state, "FAILED");
    assert_eq!(ended.exit_code, Some(3));
    assert_eq!(ended.experiment.as_deref(), Some("tagged"));
    assert!(ended.end_time.is_some() && ended.start_time.is_some());
    assert!(!second.running_jobs.iter().any(|j| j.job_id == short));
    // Nothing else left: no sacct call at all.
    let (third, calls) = snap(&mine, Some(&second));
    let left_since = third.ended_jobs.len();
    assert_eq!(
        calls,
        1 + u64::from(left_since > 0),
        "{:?}",
        third.ended_jobs
    );

    // Scopes: `all` has the other user's job, a pattern only the names it matches.
    let (all, calls) = snap(&load(Some(JobScope::All)), None);
    assert_eq!((calls, all.scheduler.scope.as_str()), (1, "all"));
    assert!(ours(&all, &tag).iter().any(|j| j.name.ends_with("_nobody")));
    let pattern = format!("^{tag}_(run|arr)$");
    // Taken after one of the wider scope: the jobs it leaves out are live, not ended.
    let (named, calls) = snap(
        &load(Some(JobScope::NamePattern(pattern.clone()))),
        Some(&third),
    );
    assert!(
        !named.ended_jobs.iter().any(|j| j.name.contains(&tag)),
        "{:?}",
        named.ended_jobs
    );
    assert_eq!(calls, 1 + u64::from(named.scheduler.sacct_calls));
    assert_eq!(named.scheduler.scope, format!("name:{pattern}"));
    assert_eq!(
        named.running_jobs.len(),
        201,
        "the run job and the 200 elements"
    );
}

fn wait_until_gone(job: &str) {
    common::wait_until("the short job ended", Duration::from_secs(120), || {
        let state = sh(&format!(
            "squeue -h -t all -j {job} -o %T 2>/dev/null || true"
        ));
        let state = state.trim();
        state.is_empty() || !matches!(state, "PENDING" | "RUNNING" | "COMPLETING" | "CONFIGURING")
    });
}

/// Submits with `name` passed as it is (no shell), held; returns the job id.
fn sbatch_named(name: &str, dir: &std::path::Path) -> String {
    let out = std::process::Command::new("sbatch")
        .args(["--parsable", "-o", "/dev/null", "--mem=20M", "-H", "-D"])
        .arg(dir)
        .args(["-J", name, "--wrap", "sleep 1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Issue 13 (review r1 H3, r3 #4, #6, #7, #9), on the real cluster:
/// - a job named with a newline and a whole forged squeue line inside neither forges a job nor
///   hides the others, and the snapshot warns of the lines it left out;
/// - a job that started and ended between two snapshots (squeue `-t all` still lists it) is in
///   the second one's `ended_jobs` with sacct's state and exit code, from the one sacct call;
/// - the elements of an array cancelled before they started, purged from the queue
///   (MinJobAge) before the next snapshot, end `CANCELLED` (sacct's range line, asked by the
///   array's id), not `unknown`;
/// - each job records its user, and going from `all` to `mine` does not end another user's job.
#[test]
#[ignore]
fn forged_names_quick_jobs_purged_arrays_and_scopes() {
    require_slurm();
    let tag = format!("ltf{}", std::process::id());
    let exp = common::Exp::new("");
    std::fs::set_permissions(
        exp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let dir = exp.path().to_path_buf();
    let d = dir.display();
    let mut cancel = Cancel(Vec::new());
    let ok = sbatch(&format!("-J {tag}_ok -D {d} -H --wrap 'sleep 1'"));
    cancel.0.push(ok.clone());
    let s = '\x1f';
    let forged = format!(
        "77777{s}77777{s}{tag}_FAKE{s}RUNNING{s}None{s}node9{s}0{s}2026-11-30T09:00:00{s}{s}/x.out{s}/home/victim{s}2026-11-30T08:00:00{s}UNLIMITED{s}1M{s}debug{s}46:00{s}victim{s}"
    );
    cancel
        .0
        .push(sbatch_named(&format!("{tag}_x\n{forged}\nend"), &dir));
    let nobody = sbatch(&format!(
        "-J {tag}_nobody -D /tmp --uid=65534 --gid=65534 --wrap 'sleep 300'"
    ));
    cancel.0.push(nobody.clone());
    let array = sbatch(&format!(
        "-J {tag}_arr -D {d} --array=0-20%1 --wrap 'sleep 300'"
    ));
    cancel.0.push(array.clone());
    let load = |jobs: Option<JobScope>| {
        let o = ConfigOverrides {
            jobs,
            ..ConfigOverrides::default()
        };
        SnapshotConfig::load(&dir.join("experiment_snapshots"), &o).unwrap()
    };
    let mine = load(None);

    let (first, _) = snap(&mine, None);
    let jobs = ours(&first, &tag);
    assert!(jobs.iter().any(|j| j.job_id == ok), "{jobs:?}");
    assert!(
        !first
            .running_jobs
            .iter()
            .any(|j| j.job_id == "77777" || j.name.contains("FAKE")),
        "a forged job: {:?}",
        first.running_jobs
    );
    assert!(
        first
            .warnings
            .iter()
            .any(|w| w.contains("line(s) of squeue's answer were left out")),
        "{:?}",
        first.warnings
    );
    assert_eq!(jobs.iter().filter(|j| j.name.ends_with("_arr")).count(), 21);
    let me = sh("id -un").trim().to_string();
    assert!(jobs.iter().all(|j| j.user.as_deref() == Some(me.as_str())));

    // A job that starts and ends before the next snapshot.
    let quick = sbatch(&format!("-J {tag}_quick -D {d} --wrap 'sleep 1; exit 7'"));
    cancel.0.push(quick.clone());
    common::wait_until(
        "the quick job ended in squeue",
        Duration::from_secs(120),
        || {
            sh(&format!(
                "squeue -h -t all -j {quick} -o %T 2>/dev/null || true"
            ))
            .trim()
                == "FAILED"
        },
    );
    common::wait_until("sacct knows the end", Duration::from_secs(60), || {
        sh(&format!("sacct -n -X -j {quick} -o State")).trim() == "FAILED"
    });
    let (second, calls) = snap(&mine, Some(&first));
    assert_eq!(calls, 2, "one squeue and one sacct");
    let ended = second
        .ended_jobs
        .iter()
        .find(|j| j.job_id == quick)
        .unwrap_or_else(|| panic!("{:?}", second.ended_jobs));
    assert_eq!((ended.state.as_str(), ended.exit_code), ("FAILED", Some(7)));

    // The array is cancelled; its elements leave the queue for good before the next snapshot.
    sh(&format!("scancel {array}"));
    common::wait_until("the array purged", Duration::from_secs(300), || {
        sh(&format!(
            "squeue -h -t all -j {array} -o %i 2>/dev/null || true"
        ))
        .trim()
        .is_empty()
    });
    let (third, calls) = snap(&mine, Some(&second));
    assert_eq!(calls, 2, "one squeue and one sacct");
    let elements: Vec<_> = third
        .ended_jobs
        .iter()
        .filter(|j| j.name.ends_with("_arr"))
        .collect();
    assert_eq!(elements.len(), 21, "{:?}", third.ended_jobs);
    assert!(
        elements.iter().all(|j| j.state == "CANCELLED"),
        "{elements:?}"
    );
    assert!(
        !third.ended_jobs.iter().any(|j| j.job_id == quick),
        "recorded twice"
    );

    // Another user's job: recorded with its user under `all`, not ended under `mine`.
    let (all, _) = snap(&load(Some(JobScope::All)), Some(&third));
    let theirs = all
        .running_jobs
        .iter()
        .find(|j| j.job_id == nobody)
        .unwrap();
    assert_eq!(theirs.user.as_deref(), Some("nobody"));
    let (back, _) = snap(&mine, Some(&all));
    assert!(
        !back.ended_jobs.iter().any(|j| j.job_id == nobody),
        "{:?}",
        back.ended_jobs
    );
}
