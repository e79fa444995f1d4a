//! A small snapshot history written as real files from the model types, for the query tests:
//! two days of hourly snapshots (UTC offsets) in which experiment `mono_s2s` runs three jobs and
//! drops three stage flags, experiment `baseline` runs alongside, and one job fails.

#![allow(dead_code)]

use labtrail::snapshot::model::{Counts, Disk, EndedJob, Experiment, Flag, Job, Snapshot};
use std::path::Path;

/// 2026-01-27T00:00:00Z.
pub const T0: i64 = 1_769_472_000;
/// Snapshots in the history (hourly).
pub const HOURS: i64 = 48;

/// RFC 3339 in UTC of `T0 + hours`.
pub fn ts(hours: i64) -> String {
    jiff::Timestamp::from_second(T0 + hours * 3600)
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%S+00:00")
        .to_string()
}

/// The file name of the snapshot at `T0 + hours`.
pub fn file_name(hours: i64) -> String {
    jiff::Timestamp::from_second(T0 + hours * 3600)
        .unwrap()
        .strftime("snapshot_%Y%m%d_%H%M%S.json")
        .to_string()
}

fn job(id: &str, name: &str, exp: &str, state: &str, node: &str, elapsed_s: u64) -> Job {
    Job {
        job_id: id.into(),
        name: name.into(),
        state: state.into(),
        time: format!("{}:{:02}:00", elapsed_s / 3600, elapsed_s / 60 % 60),
        node: node.into(),
        elapsed_s,
        submit_time: Some(ts(1)),
        experiment: Some(exp.into()),
        ..Job::default()
    }
}

/// The snapshot taken at `T0 + h`.
pub fn snapshot_at(h: i64) -> Snapshot {
    let mut s = Snapshot {
        snapshot_timestamp: ts(h),
        user: "paco0228".into(),
        schema: 1,
        host: "login1".into(),
        ..Snapshot::default()
    };
    // mono_s2s: job 1001 pending hours 1-2, running 3-12 on gpu-a9, ended COMPLETED at 13;
    // job 1002 runs 13-20 on gpu-b1 and FAILED at 21; job 1003 runs 21 onwards on gpu-a9.
    match h {
        1..=2 => s
            .running_jobs
            .push(job("1001", "mono_s2s", "mono_s2s", "PD", "(Priority)", 0)),
        3..=12 => s.running_jobs.push(job(
            "1001",
            "mono_s2s",
            "mono_s2s",
            "R",
            "gpu-a9",
            (h - 3) as u64 * 3600,
        )),
        13..=20 => s.running_jobs.push(job(
            "1002",
            "mono_train",
            "mono_s2s",
            "R",
            "gpu-b1",
            (h - 13) as u64 * 3600,
        )),
        _ if h >= 21 => s.running_jobs.push(job(
            "1003",
            "mono_eval",
            "mono_s2s",
            "R",
            "gpu-a9",
            (h - 21) as u64 * 3600,
        )),
        _ => {}
    }
    let ended = |id: &str, name: &str, state: &str, at: i64, ran: u64| EndedJob {
        job_id: id.into(),
        name: name.into(),
        state: state.into(),
        exit_code: Some(if state == "COMPLETED" { 0 } else { 1 }),
        end_time: Some(ts(at)),
        elapsed_s: Some(ran),
        experiment: Some("mono_s2s".into()),
        ..EndedJob::default()
    };
    if h == 13 {
        s.ended_jobs
            .push(ended("1001", "mono_s2s", "COMPLETED", 13, 36_000));
    }
    if h == 21 {
        s.ended_jobs
            .push(ended("1002", "mono_train", "FAILED", 21, 28_800));
    }
    // baseline: job 2001 runs hours 5-30, with a name that tries to colour the terminal.
    if (5..=30).contains(&h) {
        let mut j = job(
            "2001",
            "base\x1b[31mline",
            "baseline",
            "R",
            "cpu-7",
            (h - 5) as u64 * 3600,
        );
        j.submit_time = Some(ts(4));
        s.running_jobs.push(j);
    }
    // Stage flags written at hours 3, 7, 11 (mtime), seen by the next snapshot.
    for (i, (stage, at)) in [
        ("stage_0_setup_complete.flag", 3),
        ("stage_1_data_prep_complete.flag", 7),
        ("stage_2_train_complete.flag", 11),
    ]
    .iter()
    .enumerate()
    {
        if h > *at {
            let path = format!("mono_s2s/{stage}");
            s.completion_flags.push(path.clone());
            s.flags.push(Flag {
                path,
                name: stage.to_string(),
                mtime: jiff::Timestamp::from_second(T0 + at * 3600 - 600 + i as i64)
                    .unwrap()
                    .strftime("%Y-%m-%dT%H:%M:%S+00:00")
                    .to_string(),
                experiment: Some("mono_s2s".into()),
            });
        }
    }
    let bytes = 1_000_000 + (h.min(20) as u64) * 1_048_576;
    s.disk_usage
        .insert("mono_s2s_work".into(), format!("{}M", bytes >> 20));
    s.disk.insert(
        "mono_s2s_work".into(),
        Disk {
            path: "mono_s2s".into(),
            bytes,
            ..Disk::default()
        },
    );
    for (name, active) in [("mono_s2s", true), ("baseline", (5..=30).contains(&h))] {
        s.experiments.push(Experiment {
            name: name.into(),
            source: "rule".into(),
            active,
            queued_jobs: s
                .running_jobs
                .iter()
                .filter(|j| j.experiment.as_deref() == Some(name))
                .count() as u64,
            stages: (name == "mono_s2s").then_some(5),
            ..Experiment::default()
        });
    }
    s.counts = Counts {
        running: s.running_jobs.iter().filter(|j| j.state == "R").count() as u64,
        pending: s.running_jobs.iter().filter(|j| j.state == "PD").count() as u64,
        ended: s.ended_jobs.len() as u64,
        flags: s.flags.len() as u64,
        active_experiments: s.experiments.iter().filter(|e| e.active).count() as u64,
        ..Counts::default()
    };
    s
}

/// Writes the snapshot of hour `h` into `dir`; returns its file name.
pub fn write(dir: &Path, h: i64) -> String {
    let name = file_name(h);
    let text = serde_json::to_string_pretty(&snapshot_at(h)).unwrap();
    std::fs::write(dir.join(&name), text).unwrap();
    name
}

/// Writes the whole history (hours 0 to [`HOURS`] - 1) into `dir`.
pub fn write_history(dir: &Path) {
    for h in 0..HOURS {
        write(dir, h);
    }
}

/// `labtrail snapshots --dir DIR ARGS...` run by the built binary, in UTC.
pub fn labtrail(dir: &Path, args: &[&str]) -> std::process::Output {
    assert_cmd::Command::cargo_bin("labtrail")
        .unwrap()
        .env("TZ", "UTC")
        .arg("snapshots")
        .arg("--dir")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
}

/// [`labtrail`] with `--json`: the parsed answer and stderr; the command must succeed.
pub fn json(dir: &Path, args: &[&str]) -> (serde_json::Value, String) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = labtrail(dir, &all);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    (serde_json::from_slice(&out.stdout).unwrap(), stderr)
}
