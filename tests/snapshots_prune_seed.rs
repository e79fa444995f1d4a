//! Issue 13: `labtrail snapshots prune --policy seed` (seed 000: active experiments keep all,
//! completed ones one a day, completed more than 6 months ago one a month; each experiment's
//! first and last snapshot and every state change always kept) on a generated history of a
//! year: snapshots every 6 hours, with no experiment (`other`), an experiment completed 8 months
//! before the latest snapshot, one completed 2 months before, and one still active.

use labtrail::snapshot::model::{Experiment, Job, Snapshot};
use std::collections::BTreeMap;
use std::process::Command;

/// One snapshot every 6 hours from `start` for `days` days: `(time, experiment state, job)`
/// where the experiment is active with its job running for the first `active_days`.
fn period(
    start: &str,
    days: i64,
    name: Option<&str>,
    active_days: i64,
) -> Vec<(jiff::Timestamp, Snapshot)> {
    let start: jiff::Timestamp = start.parse().unwrap();
    (0..days * 4)
        .map(|i| {
            let t = start + jiff::SignedDuration::from_hours(6 * i);
            let active = i < active_days * 4;
            let experiments = name
                .map(|n| {
                    vec![Experiment {
                        name: n.into(),
                        source: "rule".into(),
                        active,
                        queued_jobs: u64::from(active),
                        ..Experiment::default()
                    }]
                })
                .unwrap_or_default();
            let running_jobs = if active {
                vec![Job {
                    job_id: format!("{}", 100 + days),
                    state: "R".into(),
                    experiment: name.map(String::from),
                    ..Job::default()
                }]
            } else {
                vec![]
            };
            let s = Snapshot {
                snapshot_timestamp: t.to_string().replace('Z', "+00:00"),
                schema: 1,
                running_jobs,
                experiments,
                ..Snapshot::default()
            };
            (t, s)
        })
        .collect()
}

fn name_of(t: &jiff::Timestamp) -> String {
    format!("snapshot_{}.json", t.strftime("%Y%m%d_%H%M%S"))
}

/// Issue 13: the seed policy keeps what seed 000 asks for, per experiment, and says why.
#[test]
fn seed_policy_on_a_generated_year() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("experiment_snapshots");
    std::fs::create_dir_all(&dir).unwrap();
    let other = period("2024-11-01T00:00:00Z", 5, None, 0);
    let old = period("2025-01-01T00:00:00Z", 40, Some("old_b"), 30);
    let recent = period("2025-08-01T00:00:00Z", 20, Some("recent_c"), 10);
    let active = period("2025-10-01T00:00:00Z", 10, Some("train_a"), 10);
    for (t, s) in other.iter().chain(&old).chain(&recent).chain(&active) {
        std::fs::write(dir.join(name_of(t)), serde_json::to_string(s).unwrap()).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_labtrail"))
        .current_dir(tmp.path())
        .args(["snapshots", "prune", "--policy", "seed", "--json"])
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let decided: BTreeMap<String, Vec<String>> = v["snapshots"]
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
    let kept_of = |p: &Vec<(jiff::Timestamp, Snapshot)>| -> Vec<String> {
        p.iter()
            .map(|(t, _)| name_of(t))
            .filter(|n| decided.contains_key(n))
            .collect()
    };
    let n = |p: &Vec<(jiff::Timestamp, Snapshot)>, i: usize| name_of(&p[i].0);

    // Active: every snapshot, for that reason.
    assert_eq!(kept_of(&active).len(), active.len());
    assert!(decided[&n(&active, 5)].contains(&"active experiment train_a".to_string()));

    // Completed 2 months before the latest: the newest of each day, plus its first snapshot
    // and the one where its job left and it became inactive (day 10, 00:00).
    let mut want: Vec<String> = (0..20).map(|d| n(&recent, d * 4 + 3)).collect();
    want.push(n(&recent, 0));
    want.push(n(&recent, 40));
    want.sort();
    assert_eq!(kept_of(&recent), want);
    assert!(decided[&n(&recent, 7)].contains(&"daily snapshot of completed recent_c".to_string()));
    assert!(
        decided[&n(&recent, 40)].contains(&"state change of recent_c (jobs, active)".to_string())
    );
    assert!(decided[&n(&recent, 39)].contains(&"last of recent_c".to_string()));

    // Completed 8 months before: the newest of each month, plus first and state change.
    let mut want = vec![
        n(&old, 0),   // first of old_b (and restic's oldest monthly)
        n(&old, 119), // last of old_b: its last snapshot with its job queued
        n(&old, 120), // 31 January 00:00: its job left
        n(&old, 123), // newest of January
        n(&old, 159), // newest of February, last of old_b
    ];
    want.sort();
    assert_eq!(kept_of(&old), want);
    assert!(decided[&n(&old, 119)].contains(&"monthly snapshot of completed old_b".to_string()));
    // After it: no experiment is in those snapshots, so they are `other`'s, by their own age.
    assert!(decided[&n(&old, 123)].contains(&"monthly snapshot of other".to_string()));

    // No experiment: the `other` group by its own age (older than 6 months: monthly).
    assert_eq!(kept_of(&other), [n(&other, 0), n(&other, 19)]);
    let removed = v["removed"].as_u64().unwrap() as usize;
    assert_eq!(removed, 20 + 160 + 80 + 40 - decided.len());
}

/// Issue 13: an experiment with a job still queued is active whatever its `active` says (the
/// latest snapshot that mentions it decides).
#[test]
fn a_queued_job_keeps_an_experiment_active() {
    use labtrail::snapshot::retention::restic::Item;
    use labtrail::snapshot::retention::seed::{apply, SeedItem};
    let snaps: Vec<(Item, Snapshot)> = (0..8)
        .map(|h| {
            let t: jiff::Timestamp = format!("2025-03-01T{h:02}:00:00Z").parse().unwrap();
            let s = Snapshot {
                experiments: vec![Experiment {
                    name: "x".into(),
                    active: false,
                    queued_jobs: 1,
                    ..Experiment::default()
                }],
                ..Snapshot::default()
            };
            let item = Item {
                id: format!("s{h}"),
                time: t.to_zoned(jiff::tz::TimeZone::UTC),
            };
            (item, s)
        })
        .collect();
    let items: Vec<SeedItem<'_>> = snaps
        .iter()
        .map(|(item, snapshot)| SeedItem {
            item: item.clone(),
            snapshot,
        })
        .collect();
    let decisions = apply(&items);
    assert!(decisions
        .iter()
        .all(|d| d.keep && d.reasons.contains(&"active experiment x".into())));
}
