//! Issue 13: what a snapshot collects without SLURM: a real store made by running an experiment
//! with the binary, completion flags, experiments from rules, `[snapshot]` errors, and a
//! scheduler that is absent or does not answer.
//!
//! squeue is installed on the test machine, so each test takes it off PATH (or replaces it)
//! while it collects; the tests of this file hold one lock for their whole body, so that no
//! other test of it runs a program meanwhile.

mod common;
use common::*;
use labtrail::exec::slurm::Scheduler;
use labtrail::snapshot::collect::collect;
use labtrail::snapshot::config::{ConfigError, ConfigOverrides, JobScope, SnapshotConfig};
use labtrail::snapshot::model::{Job, Snapshot};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

static ENV: Mutex<()> = Mutex::new(());

fn env_lock() -> std::sync::MutexGuard<'static, ()> {
    ENV.lock().unwrap_or_else(|e| e.into_inner())
}

/// Collects with `PATH` holding no scheduler command (a workstation), restored afterwards.
fn collect_without_slurm(cfg: &SnapshotConfig, previous: Option<&Snapshot>) -> Snapshot {
    let nowhere = tempfile::tempdir().unwrap();
    let path = std::env::var_os("PATH");
    std::env::set_var("PATH", nowhere.path());
    let sched = Scheduler::new();
    let snap = collect(cfg, previous, &sched);
    match path {
        Some(p) => std::env::set_var("PATH", p),
        None => std::env::remove_var("PATH"),
    }
    snap
}

fn load(exp: &Exp) -> SnapshotConfig {
    SnapshotConfig::load(
        &exp.file("experiment_snapshots"),
        &ConfigOverrides::default(),
    )
    .expect("config")
}

/// Two stages; the flag of stage 1 is written by its tasks; stage 2 fails for seed 2.
const TWO_STAGES: &str = r#"
[experiment]
name = "mono_s2s"
[params]
seed = [1, 2]
[[stage]]
name = "prepare"
command = "touch stage_1_{seed}_complete.flag"
[[stage]]
name = "train"
command = "test {seed} = 1"
"#;

/// Issue 13: without SLURM, a snapshot records the store's run (experiment, counts by state,
/// current stage, start and end with their offset), the flags that exist with their mtimes,
/// sorted and relative to the base, and says the scheduler is absent, which is no error.
#[test]
fn a_run_and_its_flags_are_recorded_without_slurm() {
    let _env = env_lock();
    let exp = Exp::new(TWO_STAGES);
    assert_eq!(exp.run(&["run", "exp.toml", "--no-progress"]).code(), 1);
    std::fs::create_dir(exp.file("sub")).unwrap();
    exp.write("sub/stage_0_complete.flag", "");
    exp.write("not_a_flag.txt", "");
    let old = exp.file("sub/stage_0_complete.flag");
    let touched = std::process::Command::new("touch")
        .args(["-d", "@1769533200"])
        .arg(&old)
        .status()
        .unwrap();
    assert!(touched.success());
    exp.write(
        "labtrail.toml",
        "[snapshot]\nflags = [\"*.flag\", \"sub/*.flag\"]\n\n[snapshot.experiments.mono_s2s]\ndone_flag = \"stage_5_complete.flag\"\nflags = [\"stage_*_complete.flag\", \"sub/stage_*_complete.flag\"]\n",
    );
    let snap = collect_without_slurm(&load(&exp), None);

    assert_eq!(snap.scheduler.status, "absent", "{:?}", snap.scheduler);
    assert_eq!(snap.scheduler.detail, None);
    assert!(snap.running_jobs.is_empty() && snap.ended_jobs.is_empty());
    assert_eq!(
        snap.completion_flags,
        [
            "stage_1_1_complete.flag",
            "stage_1_2_complete.flag",
            "sub/stage_0_complete.flag"
        ]
    );
    let sub = &snap.flags[2];
    assert_eq!(sub.name, "stage_0_complete.flag");
    let mtime: jiff::Timestamp = sub.mtime.parse().expect("RFC 3339");
    assert_eq!(mtime.as_second(), 1_769_533_200);
    assert!(has_offset(&sub.mtime), "{}", sub.mtime);
    assert!(snap
        .flags
        .iter()
        .all(|f| f.experiment.as_deref() == Some("mono_s2s")));

    assert_eq!(snap.runs.len(), 1, "{:?}", snap.runs);
    let run = &snap.runs[0];
    assert_eq!(run.experiment, "mono_s2s");
    assert_eq!(run.state, "finished");
    assert_eq!(run.counts.get("done"), Some(&3));
    assert_eq!(run.counts.get("failed"), Some(&1));
    assert_eq!(run.stage.as_deref(), Some("train"));
    assert!(run.started_at.as_deref().is_some_and(has_offset));
    assert!(run.finished_at.as_deref().is_some_and(has_offset));

    let e = &snap.experiments[0];
    assert_eq!(
        (e.name.as_str(), e.source.as_str()),
        ("mono_s2s", "labtrail")
    );
    assert_eq!(e.done_flag, Some(false));
    assert!(e.active, "its done_flag does not exist yet");
    assert_eq!(e.stage.as_deref(), Some("train"));
    assert!(has_offset(&snap.snapshot_timestamp));
    assert_eq!(snap.counts.flags, 3);
    assert!(snap.warnings.is_empty(), "{:?}", snap.warnings);
    assert!(!snap.user.is_empty() && !snap.host.is_empty());

    // Once the done flag exists, the experiment is complete.
    exp.write("stage_5_complete.flag", "");
    let later = collect_without_slurm(&load(&exp), Some(&snap));
    assert_eq!(later.experiments[0].done_flag, Some(true));
    assert!(!later.experiments[0].active);
    assert_eq!(later.counts.active_experiments, 0);
}

fn has_offset(t: &str) -> bool {
    let tail = &t[t.len().saturating_sub(6)..];
    let b = tail.as_bytes();
    t.len() == 25 && (b[0] == b'+' || b[0] == b'-') && b[3] == b':'
}

/// Issue 13: a run whose runner is at work is `active`, read without taking its lock: the
/// runner goes on and finishes.
#[test]
fn a_running_run_is_active_and_its_lock_is_left_alone() {
    let _env = env_lock();
    let exp = Exp::new(
        "[experiment]\nname = \"waits\"\ncommand = \"touch started; while [ ! -e go ]; do sleep 0.1; done\"\n",
    );
    let child = exp.spawn(&["run", "exp.toml", "--no-progress"]);
    wait_until("the task started", Duration::from_secs(60), || {
        exp.file("started").exists() && exp.count("running") == 1
    });
    let snap = collect_without_slurm(&load(&exp), None);
    assert_eq!(snap.runs.len(), 1, "{:?}", snap.warnings);
    assert_eq!(snap.runs[0].state, "active");
    assert_eq!(snap.runs[0].counts.get("running"), Some(&1));
    assert!(snap.experiments[0].active);
    exp.write("go", "");
    let out = finish(child);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let after = collect_without_slurm(&load(&exp), Some(&snap));
    assert_eq!(after.runs[0].state, "finished");
    assert!(!after.experiments[0].active);
}

/// Issue 13: a store that cannot be opened is a warning in the snapshot, not a failure.
#[test]
fn a_store_that_cannot_be_opened_is_a_warning() {
    let _env = env_lock();
    let exp = Exp::new("");
    exp.write(
        "labtrail.toml",
        "[snapshot]\nstores = [\"broken/.labtrail\"]\n",
    );
    std::fs::create_dir_all(exp.file("broken/.labtrail")).unwrap();
    exp.write(
        "broken/.labtrail/labtrail.db",
        "this is not a database, it is text",
    );
    exp.write("a.flag", "");
    let snap = collect_without_slurm(&load(&exp), None);
    assert!(snap.runs.is_empty());
    assert_eq!(snap.warnings.len(), 1, "{:?}", snap.warnings);
    assert!(
        snap.warnings[0].contains("broken/.labtrail"),
        "{}",
        snap.warnings[0]
    );
    assert_eq!(snap.completion_flags, ["a.flag"], "the rest is recorded");
}

/// Issue 13: `[snapshot]` errors name the file, the line and the key; an unknown key is refused
/// with the list of known ones.
#[test]
fn config_errors_name_the_file_line_and_key() {
    let _env = env_lock();
    let cases = [
        (
            "[snapshot]\nflags = [\"*.flag\"]\nflag = 1\n",
            "line 3",
            "unknown field `flag`, expected one of",
        ),
        (
            "[other]\nx = 1\n\n[snapshot]\njobs = \"(unclosed\"\n",
            "line 5",
            "`jobs`",
        ),
        ("[snapshot]\nslot = \"soon\"\n", "line 2", "`slot`"),
        (
            "[snapshot]\n\n[snapshot.experiments.a]\njobs = \"^a\"\ndone = \"x\"\n",
            "line 5",
            "unknown field `done`",
        ),
        (
            "[snapshot]\nflags = \"*.flag\"\n",
            "line 2",
            "expected a sequence",
        ),
    ];
    for (text, line, what) in cases {
        let exp = Exp::new("");
        exp.write("labtrail.toml", text);
        let err = SnapshotConfig::load(
            &exp.file("experiment_snapshots"),
            &ConfigOverrides::default(),
        )
        .expect_err(text);
        let shown = err.to_string();
        assert!(matches!(err, ConfigError::Invalid { .. }));
        assert!(
            shown.contains(&exp.file("labtrail.toml").display().to_string()),
            "{shown}"
        );
        assert!(
            shown.contains(line) && shown.contains(what),
            "{text:?}: {shown}"
        );
    }
    let exp = Exp::new("");
    exp.write("labtrail.toml", "[snapshot]\nflag = 1\n");
    let shown = SnapshotConfig::load(&exp.file("s"), &ConfigOverrides::default())
        .unwrap_err()
        .to_string();
    for key in ["flags", "measure", "jobs", "stores", "experiments"] {
        assert!(shown.contains(&format!("`{key}`")), "{shown}");
    }
}

/// Issue 13: defaults without a file; flags override the file, paths from the command line are
/// taken from the current folder, the file's from its own.
#[test]
fn defaults_and_overrides() {
    let _env = env_lock();
    let exp = Exp::new("");
    let cfg = load(&exp);
    assert_eq!(cfg.file, None);
    assert_eq!(cfg.flags, ["*.flag", "*/*.flag"]);
    assert_eq!(cfg.jobs, JobScope::Mine);
    assert!(cfg.stores.is_empty() && cfg.measure.is_empty());
    assert_eq!(
        cfg.base,
        exp.path(),
        "the folder that holds the snapshot folder"
    );

    exp.write(
        "labtrail.toml",
        "[snapshot]\njobs = \"all\"\nmeasure = { work = \"work\" }\nflags = [\"x/*.flag\"]\n",
    );
    let cfg = load(&exp);
    assert_eq!(cfg.jobs, JobScope::All);
    assert_eq!(cfg.measure, [("work".to_string(), exp.file("work"))]);
    let o = ConfigOverrides {
        flags: vec!["y/*.flag".into()],
        jobs: Some(JobScope::NamePattern("^mono".into())),
        measure: vec![("scratch".into(), "/scratch/me".into())],
        ..ConfigOverrides::default()
    };
    let cfg = SnapshotConfig::load(&exp.file("experiment_snapshots"), &o).unwrap();
    assert_eq!(cfg.flags, ["y/*.flag"]);
    assert_eq!(cfg.jobs, JobScope::NamePattern("^mono".into()));
    assert_eq!(cfg.measure, [("scratch".to_string(), "/scratch/me".into())]);
    assert_eq!(cfg.base, exp.path());
}

/// Issue 13: a squeue that does not answer makes the snapshot `failed` with its error, and no
/// job of the previous snapshot is said to have ended (nobody knows).
#[test]
fn a_failing_squeue_is_recorded_as_failed() {
    let _env = env_lock();
    let exp = Exp::new("");
    let squeue = exp.write_executable(
        "squeue",
        "#!/bin/sh\necho 'slurm_load_jobs error: Unable to contact slurm controller' >&2\nexit 1\n",
    );
    let previous = snapshot_with_job("41");
    let snap = with_env(&[("LABTRAIL_SQUEUE", &squeue)], || {
        collect(&load(&exp), Some(&previous), &Scheduler::new())
    });
    assert_eq!(snap.scheduler.status, "failed");
    assert!(snap
        .scheduler
        .detail
        .as_deref()
        .unwrap()
        .contains("Unable to contact"));
    assert!(snap.ended_jobs.is_empty());
    assert_eq!(snap.scheduler.sacct_calls, 0);
}

/// Issue 13: a job that left the queue on a cluster without accounting ends `unknown`, and the
/// snapshot says accounting is off. A fake sacct: the test cluster has accounting, and a cluster
/// without it cannot be made for a test.
#[test]
fn fake_sacct_without_accounting_leaves_the_end_state_unknown() {
    let _env = env_lock();
    let exp = Exp::new("");
    let squeue = exp.write_executable("squeue", "#!/bin/sh\nexit 0\n");
    let sacct = exp.write_executable(
        "sacct",
        "#!/bin/sh\necho 'sacct: error: Slurm accounting storage is disabled' >&2\nexit 1\n",
    );
    let previous = snapshot_with_job("42");
    let snap = with_env(
        &[("LABTRAIL_SQUEUE", &squeue), ("LABTRAIL_SACCT", &sacct)],
        || collect(&load(&exp), Some(&previous), &Scheduler::new()),
    );
    assert_eq!(snap.scheduler.status, "slurm");
    assert_eq!(
        (snap.scheduler.squeue_calls, snap.scheduler.sacct_calls),
        (1, 1)
    );
    assert!(!snap.scheduler.accounting);
    assert_eq!(snap.ended_jobs.len(), 1);
    assert_eq!(snap.ended_jobs[0].job_id, "42");
    assert_eq!(snap.ended_jobs[0].state, "unknown");
    assert_eq!(snap.ended_jobs[0].experiment.as_deref(), Some("mono_s2s"));
    assert_eq!(snap.counts.ended, 1);
}

fn snapshot_with_job(id: &str) -> Snapshot {
    Snapshot {
        snapshot_timestamp: "2026-11-30T08:00:00+00:00".into(),
        running_jobs: vec![Job {
            job_id: id.into(),
            name: "mono_s2s_stage2".into(),
            state: "R".into(),
            experiment: Some("mono_s2s".into()),
            submit_time: Some("2026-11-30T07:00:00+00:00".into()),
            ..Job::default()
        }],
        scheduler: labtrail::snapshot::model::SchedulerView {
            status: "slurm".into(),
            accounting: true,
            ..Default::default()
        },
        ..Snapshot::default()
    }
}

fn with_env<T>(vars: &[(&str, &Path)], f: impl FnOnce() -> T) -> T {
    for (k, v) in vars {
        std::env::set_var(k, v);
    }
    let out = f();
    for (k, _) in vars {
        std::env::remove_var(k);
    }
    out
}

/// Issue 13: a measured folder gets `du -sb`'s figure, in bytes and in `du -h`'s form under the
/// seed's `disk_usage`, by its configured name; a folder that is not there is recorded with its
/// error, and the rest of the snapshot stands.
#[test]
fn measured_folders_have_dus_figure() {
    let _env = env_lock();
    let exp = Exp::new("");
    std::fs::create_dir_all(exp.file("work/a/b")).unwrap();
    exp.write("work/a/one.bin", &"x".repeat(5000));
    exp.write("work/a/b/two.bin", &"y".repeat(123_456));
    exp.write(
        "labtrail.toml",
        "[snapshot]\nmeasure = { work = \"work\", gone = \"missing\" }\n",
    );
    let snap = collect_without_slurm(&load(&exp), None);
    let du = std::process::Command::new("du")
        .arg("-sb")
        .arg(exp.file("work"))
        .output()
        .unwrap();
    let du_bytes: u64 = String::from_utf8_lossy(&du.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let work = &snap.disk["work"];
    assert_eq!((work.path.as_str(), work.bytes), ("work", du_bytes));
    assert_eq!((work.files, work.dirs, work.partial), (2, 3, false));
    assert_eq!(snap.disk_usage["work"], work.human);
    let du_h = std::process::Command::new("du")
        .args(["-sh", "--apparent-size"])
        .arg(exp.file("work"))
        .output()
        .unwrap();
    let du_h = String::from_utf8_lossy(&du_h.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(work.human, du_h, "du -h's form of {du_bytes}");
    let gone = &snap.disk["gone"];
    assert!(
        gone.error
            .as_deref()
            .is_some_and(|e| e.contains("cannot be measured")),
        "{gone:?}"
    );
    assert_eq!(
        snap.disk.keys().collect::<Vec<_>>(),
        ["work", "gone"],
        "the file's order"
    );
}
