//! Issue 13 (reviews r2 F4/F5, r3 #1/#5): `snapshots prune --policy seed` on the histories the
//! reviews found it wrong on: a failed scheduler, seed 000's own files, a future-dated file, a
//! busy queue of jobs no experiment claims.

use labtrail::snapshot::model::{Experiment, Flag, Job, Run, SchedulerView, Snapshot};
use std::path::Path;
use std::process::Command;

/// Hour `h` after `start`.
fn at(start: &str, h: i64) -> jiff::Timestamp {
    start.parse::<jiff::Timestamp>().unwrap() + jiff::SignedDuration::from_mins(60 * h)
}

/// Writes `s` taken at `t` (UTC) into `dir`; returns its file name.
fn write(dir: &Path, t: jiff::Timestamp, mut s: Snapshot) -> String {
    if s.snapshot_timestamp.is_empty() {
        s.snapshot_timestamp = t.to_string().replace('Z', "+00:00");
    }
    let name = format!("snapshot_{}.json", t.strftime("%Y%m%d_%H%M%S"));
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(&name), serde_json::to_string(&s).unwrap()).unwrap();
    name
}

/// `labtrail snapshots prune --policy seed --json` in `dir` (TZ=UTC): (kept file, its reasons).
fn kept(dir: &Path) -> Vec<(String, Vec<String>)> {
    let out = Command::new(env!("CARGO_BIN_EXE_labtrail"))
        .args(["snapshots", "prune", "--policy", "seed", "--json", "--dir"])
        .arg(dir)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut kept: Vec<(String, Vec<String>)> = v["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["keep"] == true)
        .map(|d| {
            let reasons = d["reasons"].as_array().unwrap().iter();
            let reasons = reasons.map(|r| r.as_str().unwrap().to_string()).collect();
            (d["file"].as_str().unwrap().to_string(), reasons)
        })
        .collect();
    kept.sort();
    kept
}

fn job(id: &str, name: &str, state: &str, experiment: Option<&str>) -> Job {
    Job {
        job_id: id.into(),
        name: name.into(),
        state: state.into(),
        experiment: experiment.map(String::from),
        ..Job::default()
    }
}

fn rule(name: &str, active: bool, queued: u64) -> Experiment {
    Experiment {
        name: name.into(),
        source: "rule".into(),
        active,
        queued_jobs: queued,
        ..Experiment::default()
    }
}

fn scheduler(status: &str) -> SchedulerView {
    SchedulerView {
        status: status.into(),
        ..SchedulerView::default()
    }
}

/// Issue 13 (review r3 #1): a snapshot whose squeue failed saw no jobs; it must not make an
/// experiment whose job is still running "completed" (which thinned it to one a day). Both
/// forms of the failed snapshot: the experiment listed inactive (what the collector wrote), or
/// carried forward as active.
#[test]
fn a_failed_scheduler_never_completes_an_experiment() {
    for carried in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("snaps");
        let mut names = Vec::new();
        for h in 0..6 {
            names.push(write(
                &dir,
                at("2026-03-01T08:00:00Z", h),
                Snapshot {
                    schema: 1,
                    scheduler: scheduler("slurm"),
                    running_jobs: vec![job("5", "rev3-f-long", "R", Some("rev3y"))],
                    experiments: vec![rule("rev3y", true, 1)],
                    ..Snapshot::default()
                },
            ));
        }
        names.push(write(
            &dir,
            at("2026-03-01T08:00:00Z", 6),
            Snapshot {
                schema: 1,
                scheduler: scheduler("failed"),
                experiments: vec![rule("rev3y", carried, 0)],
                ..Snapshot::default()
            },
        ));
        let kept = kept(&dir);
        assert_eq!(kept.len(), names.len(), "carried={carried}: {kept:?}");
        assert!(
            kept[..6]
                .iter()
                .all(|(_, r)| r.contains(&"active experiment rev3y".to_string())),
            "{kept:?}"
        );
        // The failed snapshot's empty queue is no state change.
        assert!(kept[6].1.iter().all(|r| !r.contains("jobs")), "{kept:?}");
    }
}

/// A seed 000 file (its own format: bare local time, no `experiments`, no `scheduler`).
fn seed_file(dir: &Path, h: i64, jobs: &[(&str, &str)]) -> String {
    let t = at("2026-01-26T00:00:00Z", h);
    let s = Snapshot {
        snapshot_timestamp: t.strftime("%Y-%m-%dT%H:%M:%S").to_string(),
        user: "paco0228".into(),
        running_jobs: jobs
            .iter()
            .map(|(id, state)| Job {
                time: "1:38:04".into(),
                node: "c3gpu-a9-u33-1".into(),
                ..job(id, "mono_s2s", state, None)
            })
            .collect(),
        completion_flags: vec!["stage_0_setup_complete.flag".into()],
        ..Snapshot::default()
    };
    write(dir, t, s)
}

/// Issue 13 (review r2 F4): seed 000's own files name no experiment; each job name is one,
/// active while a job of it is queued, so a running `mono_s2s` keeps all 48 hourly snapshots
/// (before: 3). Once its job has left the queue it is completed and thinned to one a day.
#[test]
fn seed_files_keep_a_running_experiment() {
    let tmp = tempfile::tempdir().unwrap();
    let running = tmp.path().join("running");
    for h in 0..48 {
        seed_file(&running, h, &[("23293371", "R")]);
    }
    let kept_running = kept(&running);
    assert_eq!(kept_running.len(), 48, "{kept_running:?}");
    assert!(kept_running[10]
        .1
        .contains(&"active experiment mono_s2s".to_string()));

    let ended = tmp.path().join("ended");
    let names: Vec<String> = (0..48)
        .map(|h| {
            let jobs: &[(&str, &str)] = if h < 24 { &[("23293371", "R")] } else { &[] };
            seed_file(&ended, h, jobs)
        })
        .collect();
    let kept_ended = kept(&ended);
    let files: Vec<&str> = kept_ended.iter().map(|(f, _)| f.as_str()).collect();
    // Its first and last (the newest of its day), the one its job left in, the newest of day 2.
    assert_eq!(files, [&names[0], &names[23], &names[24], &names[47]]);
    assert!(kept_ended[2]
        .1
        .contains(&"state change of mono_s2s (jobs, active)".to_string()));
}

/// Issue 13 (review r2 F5): a future-dated snapshot (a wrong clock) does not make completed
/// experiments "completed more than 6 months ago" (monthly): durations count from the latest
/// snapshot not in the future, as restic's.
#[test]
fn a_future_snapshot_does_not_make_completed_experiments_old() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("snaps");
    // Ten days of a completed experiment's snapshots, 20 to 10 days ago, four a day.
    let start = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * 20);
    let start = start.strftime("%Y-%m-%dT00:00:00Z").to_string();
    for i in 0..40 {
        let s = Snapshot {
            schema: 1,
            scheduler: scheduler("slurm"),
            experiments: vec![rule("b", false, 0)],
            flags: vec![Flag {
                path: "b/done.flag".into(),
                name: "done.flag".into(),
                experiment: Some("b".into()),
                ..Flag::default()
            }],
            ..Snapshot::default()
        };
        write(&dir, at(&start, 6 * i), s);
    }
    let without = kept(&dir);
    assert_eq!(without.len(), 11, "its first, and one a day: {without:?}");
    let future = Snapshot {
        schema: 1,
        scheduler: scheduler("slurm"),
        experiments: vec![rule("b", false, 0)],
        ..Snapshot::default()
    };
    let name = write(&dir, "2099-01-01T00:00:00Z".parse().unwrap(), future);
    let with = kept(&dir);
    let others: Vec<_> = with.into_iter().filter(|(f, _)| *f != name).collect();
    assert_eq!(others, without);
}

/// Issue 13 (review r3 #5): state changes are per experiment, and an experiment is in a
/// snapshot only when something of it is there. A day and a half of 15-minute snapshots where
/// every experiment is completed (a rule with its done flag, a finished labtrail run, a rule
/// configured ahead whose done flag is not there yet and that has had no job), while jobs no
/// experiment claims come and go in every snapshot: it thins to the newest of each day, the
/// first and last, and the one real change (a new flag of `done_rule`). Before: all 144 kept.
#[test]
fn a_busy_queue_of_completed_experiments_thins_to_one_a_day() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("snaps");
    let flag = |path: &str| Flag {
        path: path.into(),
        name: path.into(),
        experiment: Some("done_rule".into()),
        ..Flag::default()
    };
    let names: Vec<String> = (0..144)
        .map(|i| {
            let mut flags = vec![flag("done_rule/done.flag")];
            if i >= 100 {
                flags.push(flag("done_rule/extra.flag"));
            }
            let s = Snapshot {
                schema: 1,
                scheduler: scheduler("slurm"),
                running_jobs: vec![
                    job(&format!("{}", 1000 + i), "array", "R", None),
                    job(&format!("{}", 1001 + i), "array", "PD", None),
                ],
                flags,
                runs: vec![Run {
                    experiment: "grid".into(),
                    state: "finished".into(),
                    stage: Some("eval".into()),
                    ..Run::default()
                }],
                experiments: vec![
                    Experiment {
                        name: "grid".into(),
                        source: "labtrail".into(),
                        stage: Some("eval".into()),
                        ..Experiment::default()
                    },
                    Experiment {
                        done_flag: Some(true),
                        ..rule("done_rule", false, 0)
                    },
                    Experiment {
                        done_flag: Some(false),
                        ..rule("ahead", true, 0)
                    },
                    Experiment {
                        source: "other".into(),
                        ..rule("other", true, 2)
                    },
                ],
                ..Snapshot::default()
            };
            write(
                &dir,
                at("2026-02-01T00:00:00Z", 0) + jiff::SignedDuration::from_mins(15 * i),
                s,
            )
        })
        .collect();
    let kept = kept(&dir);
    let files: Vec<&str> = kept.iter().map(|(f, _)| f.as_str()).collect();
    // 0: first; 95: the newest of 1 February; 100: the new flag; 143: last, newest of the 2nd.
    assert_eq!(files, [&names[0], &names[95], &names[100], &names[143]]);
    assert_eq!(
        kept[2].1,
        ["state change of done_rule (flags)".to_string()],
        "{kept:?}"
    );
}
