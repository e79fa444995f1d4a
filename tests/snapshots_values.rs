//! Issue 13 (review r2 F10, F11, F12, F13; r3 #1, #5b): what the queries print from what the
//! files say: escaped end times, an unknown start said as such, huge numbers without a panic,
//! a snapshot whose scheduler failed said as such, an experiment's end from its jobs' ends.

mod snapshots_common;

use snapshots_common::labtrail;
use std::path::Path;

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = labtrail(dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?}: {stderr}");
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn file(dir: &Path, name: &str, json: serde_json::Value) {
    std::fs::write(dir.join(name), json.to_string()).unwrap();
}

fn job(id: &str, exp: &str) -> serde_json::Value {
    serde_json::json!({"job_id": id, "name": exp, "state": "R", "node": "n1", "experiment": exp})
}

/// Issue 13 (review r2 F10): an `ended_jobs[].end_time` that is not a time reaches the
/// terminal escaped, not as raw escape sequences.
#[test]
fn end_time_text_is_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    file(
        d,
        "snapshot_20260101_000000.json",
        serde_json::json!({"schema": 1,
        "snapshot_timestamp": "2026-01-01T00:00:00+00:00", "running_jobs": [job("1", "x")]}),
    );
    file(
        d,
        "snapshot_20260101_010000.json",
        serde_json::json!({"schema": 1,
        "snapshot_timestamp": "2026-01-01T01:00:00+00:00",
        "ended_jobs": [{"job_id": "1", "name": "x", "state": "FAILED",
                        "end_time": "\u{1b}]0;pwned\u{7}\u{1b}[2Jx", "exit_code": 1}]}),
    );
    let out = ok(d, &["--job", "1"]);
    assert!(out.contains("ended FAILED"), "{out}");
    assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'), "{out:?}");
}

/// Issue 13 (review r2 F11): an experiment only ever listed inactive has no start: said as
/// unknown, not 1970 and 20,000 days.
#[test]
fn unknown_start_is_said() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for h in 0..3 {
        file(
            d,
            &format!("snapshot_20260301_0{h}0000.json"),
            serde_json::json!({"schema": 1,
            "snapshot_timestamp": format!("2026-03-01T0{h}:00:00+00:00"),
            "experiments": [{"name": "done_exp", "source": "rule", "active": false, "done_flag": true}]}),
        );
    }
    let out = ok(d, &["--experiment", "done_exp"]);
    assert!(out.contains("started   unknown"), "{out}");
    assert!(!out.contains("1970") && !out.contains("ran "), "{out}");
}

/// Issue 13 (review r2 F12): numbers at u64's end in a file give saturated figures, not a
/// panic (exit 101), and no temporary index file is left.
#[test]
fn huge_numbers_do_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    file(
        d,
        "snapshot_20260101_000000.json",
        serde_json::json!({"schema": 1,
        "snapshot_timestamp": "2026-01-01T00:00:00+00:00",
        "disk": {"a": {"bytes": u64::MAX}, "b": {"bytes": u64::MAX}},
        "running_jobs": [{"job_id": "1", "state": "R", "elapsed_s": u64::MAX}]}),
    );
    file(
        d,
        "snapshot_20260101_010000.json",
        serde_json::json!({"schema": 1,
        "snapshot_timestamp": "2026-01-01T01:00:00+00:00",
        "disk": {"a": {"bytes": 9_223_372_036_854_775_809u64}}}),
    );
    ok(d, &[]);
    let out = ok(d, &["--job", "1"]);
    assert!(!out.contains("runtime -"), "{out}");
    ok(d, &["--at", "2026-01-01T00:30:00Z"]);
    let left: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Issue 13 (review r2 F13, r3 #1, #5b): a snapshot whose scheduler failed is said as such by
/// `--at` and the timeline (not "0 running"), does not end the job's span nor the
/// experiment; the experiment's end is its job's recorded end time.
#[test]
fn failed_scheduler_is_not_an_empty_queue() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let exp = |active: bool| serde_json::json!([{"name": "e", "source": "rule", "active": active}]);
    file(
        d,
        "snapshot_20260301_000000.json",
        serde_json::json!({"schema": 1,
        "snapshot_timestamp": "2026-03-01T00:00:00+00:00", "running_jobs": [job("1", "e")],
        "counts": {"running": 1}, "experiments": exp(true), "scheduler": {"status": "slurm"}}),
    );
    file(
        d,
        "snapshot_20260301_010000.json",
        serde_json::json!({"schema": 1,
        "snapshot_timestamp": "2026-03-01T01:00:00+00:00", "experiments": exp(false),
        "scheduler": {"status": "failed", "detail": "squeue: timeout"}}),
    );
    file(
        d,
        "snapshot_20260301_020000.json",
        serde_json::json!({"schema": 1,
        "snapshot_timestamp": "2026-03-01T02:00:00+00:00", "running_jobs": [job("1", "e")],
        "counts": {"running": 1}, "experiments": exp(true), "scheduler": {"status": "slurm"}}),
    );
    let at = ok(d, &["--at", "2026-03-01T01:30:00Z"]);
    assert!(at.contains("did not answer"), "{at}");
    let timeline = ok(d, &["--limit", "0"]);
    assert!(timeline.contains("did not answer"), "{timeline}");
    let life: serde_json::Value = serde_json::from_str(&ok(d, &["--json", "--job", "1"])).unwrap();
    assert_eq!(life[0]["states"].as_array().unwrap().len(), 1, "{life}");
    // The job ends (sacct's end time 02:40) and a later snapshot records it.
    file(
        d,
        "snapshot_20260301_030000.json",
        serde_json::json!({"schema": 1,
        "snapshot_timestamp": "2026-03-01T03:00:00+00:00", "experiments": exp(false),
        "ended_jobs": [{"job_id": "1", "name": "e", "state": "COMPLETED", "exit_code": 0,
                        "end_time": "2026-03-01T02:40:00+00:00", "experiment": "e"}],
        "scheduler": {"status": "slurm"}}),
    );
    let course: serde_json::Value =
        serde_json::from_str(&ok(d, &["--json", "--experiment", "e"])).unwrap();
    assert_eq!(
        course["until_epoch"],
        1_772_323_200 + 2 * 3600 + 40 * 60,
        "{course}"
    );
}
