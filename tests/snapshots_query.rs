//! Issue 13: `labtrail snapshots` queries over a generated history of real snapshot files:
//! the timeline, `--at`, `--job`, `--flag`, `--since/--until`, `--experiment`; the index kept in
//! step with the files (reindex equals incremental indexing, damaged or deleted index rebuilt,
//! files that are not snapshots skipped with a warning, new files caught up).

mod snapshots_common;

use snapshots_common::{labtrail, ts, write_history, HOURS, T0};
use std::path::Path;

fn json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = labtrail(dir, &all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn history() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_history(dir.path());
    dir
}

/// Issue 13: the timeline collapses runs of snapshots that saw the same thing, and shows new
/// flags and the disk delta.
#[test]
fn timeline_collapses_unchanged_snapshots_and_shows_changes() {
    let dir = history();
    let t = json(dir.path(), &["--limit", "0"]);
    let rows = t["rows"].as_array().unwrap();
    assert_eq!(t["snapshots"], HOURS);
    assert!(rows.len() < HOURS as usize / 2, "{} rows", rows.len());
    let sum = |k: &str| rows.iter().map(|r| r[k].as_i64().unwrap()).sum::<i64>();
    assert_eq!(sum("snapshots"), HOURS);
    assert_eq!(sum("new_flags"), 3);
    assert_eq!(sum("disk_delta"), 20 * 1_048_576);
    // Job 1001 pending at hours 1 and 2: one row of two snapshots.
    let pending = rows.iter().find(|r| r["pending"] == 1).unwrap();
    assert_eq!(
        (
            pending["from"].as_str().unwrap(),
            pending["snapshots"].as_i64()
        ),
        (ts(1).as_str(), Some(2))
    );
    // A limit reads only the newest snapshots, and gives the same rows as the whole timeline.
    for limit in [1, 2, 5] {
        let tail = json(dir.path(), &["--limit", &limit.to_string()]);
        assert_eq!(
            tail["rows"].as_array().unwrap()[..],
            rows[rows.len() - limit..],
            "--limit {limit}"
        );
    }
    let text = String::from_utf8(labtrail(dir.path(), &["--limit", "3"]).stdout).unwrap();
    assert!(
        text.contains("TIME")
            && text.contains("DISK DELTA")
            && text.contains("--limit 0 shows all"),
        "{text}"
    );
}

/// Issue 13: `--since/--until` bound the timeline; a date as `--until` includes its whole day.
#[test]
fn since_and_until_bound_the_timeline() {
    let dir = history();
    let t = json(
        dir.path(),
        &[
            "--since",
            "2026-01-28",
            "--until",
            "2026-01-28",
            "--limit",
            "0",
        ],
    );
    assert_eq!(t["snapshots"], 24);
    assert_eq!(t["rows"][0]["from"], ts(24));
    let out = labtrail(dir.path(), &["--since", "2027-01-01"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the snapshots go from"));
}

/// Issue 13: `--at` answers with the nearest snapshot at or before the time, saying how old.
#[test]
fn at_gives_the_nearest_snapshot_before_and_its_age() {
    let dir = history();
    let v = json(dir.path(), &["--at", "2026-01-27 18:30"]);
    assert_eq!(v["taken"], ts(18));
    assert_eq!(v["age_s"], 1800);
    let ids: Vec<&str> = v["running"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["job_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["2001", "1002"], "longest in the queue first");
    assert_eq!(v["flags"].as_array().unwrap().len(), 3);
    let v = json(dir.path(), &["--at", "2026-01-27T02:00:00+00:00"]);
    assert_eq!(v["waiting"][0]["node"], "(Priority)");
    let early = labtrail(dir.path(), &["--at", "2026-01-26"]);
    assert_eq!(early.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&early.stderr).contains("the first is from"));
    let bad = labtrail(dir.path(), &["--at", "someday"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--at \"someday\": not a time"));
}

/// Issue 13: `--job` gives first/last seen, the states with their node and times, the
/// runtime, and the end state sacct gave.
#[test]
fn job_lifetime_has_states_node_runtime_and_end() {
    let dir = history();
    let v = json(dir.path(), &["--job", "1001"]);
    let life = &v[0];
    assert_eq!(
        (life["first_seen"].as_str(), life["last_seen"].as_str()),
        (Some(ts(1).as_str()), Some(ts(12).as_str()))
    );
    let states: Vec<(&str, &str)> = life["states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["state"].as_str().unwrap(), s["node"].as_str().unwrap()))
        .collect();
    assert_eq!(states, [("PD", "(Priority)"), ("R", "gpu-a9")]);
    assert_eq!(life["runtime_s"], 36_000);
    assert_eq!(life["end"]["state"], "COMPLETED");
    assert_eq!(life["in_queue"], false);
    assert_eq!(json(dir.path(), &["--job", "1003"])[0]["in_queue"], true);
    let text = String::from_utf8(labtrail(dir.path(), &["--job", "1002"]).stdout).unwrap();
    assert!(
        text.contains("ended FAILED")
            && text.contains("gpu-b1")
            && text.contains("runtime 8 h 0 m"),
        "{text}"
    );
    assert_eq!(
        labtrail(dir.path(), &["--job", "100"]).status.code(),
        Some(2)
    );
}

/// Issue 13: `--flag` names when a flag first appeared: its mtime and the first snapshot.
#[test]
fn flag_first_appearance() {
    let dir = history();
    let v = json(dir.path(), &["--flag", "stage_1_data_prep_complete.flag"]);
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["path"], "mono_s2s/stage_1_data_prep_complete.flag");
    assert_eq!(v[0]["mtime"], "2026-01-27T06:50:01+00:00");
    assert_eq!(v[0]["first_seen"], ts(8));
    assert_eq!(v[0]["present"], true);
}

/// Issue 13: the seed's use cases in one command: when it started, how long it ran, its stage,
/// which stages completed when, what else ran, failed jobs, and the estimate with its basis.
#[test]
fn experiment_course_answers_the_seeds_use_cases() {
    let dir = history();
    let c = json(dir.path(), &["--experiment", "mono_s2s"]);
    assert_eq!(c["started_epoch"], T0);
    assert_eq!(c["active"], true);
    assert_eq!(c["ran_s"], 47 * 3600);
    assert_eq!(c["jobs_seen"], 3);
    let stages: Vec<i64> = c["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["took_s"].as_i64().unwrap())
        .collect();
    assert_eq!(stages, [10_200, 14_401, 14_401]);
    assert_eq!(
        c["estimate"]["basis"],
        "3 of 5 stages, median stage 4 h 0 m"
    );
    assert_eq!(
        c["estimate"]["eta_epoch"],
        T0 + 10 * 3600 + 3002 + 2 * 14_401
    );
    assert_eq!(c["failed_jobs"][0]["job_id"], "1002");
    assert_eq!(c["alongside"][0]["experiment"], "baseline");
    assert_eq!(c["stage"], "after mono_s2s/stage_2_train_complete.flag");
    let out = labtrail(dir.path(), &["--experiment", "mono_s2s", "--stages", "3"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("all 3 stages done"), "{text}");
    assert!(
        text.contains("running alongside") && !text.contains('\x1b'),
        "{text}"
    );
    let b = json(dir.path(), &["--experiment", "baseline"]);
    assert_eq!(
        (b["active"].as_bool(), b["ran_s"].as_i64()),
        (Some(false), Some(26 * 3600))
    );
    assert_eq!(b["started_basis"], "first job submitted");
}
