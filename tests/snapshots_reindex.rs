//! Issue 13: the snapshot index follows its files: reindex equals incremental indexing, prune's
//! forgetting trims spans, a damaged or deleted index is rebuilt, a file that is not a snapshot
//! is skipped with a warning (once), new files are caught up, seed 000's own files are read.

mod snapshots_common;

use labtrail::app::snapshots_index::{forget_files, index_file, reindex};
use labtrail::store::snapshot_index::INDEX_FILE;
use snapshots_common::{file_name, json, snapshot_at, ts, write, write_history, HOURS};
use std::path::Path;

/// Everything the index holds, without row ids.
fn dump(dir: &Path) -> Vec<String> {
    let db = rusqlite::Connection::open(dir.join(INDEX_FILE)).unwrap();
    let mut out = Vec::new();
    for sql in [
        "SELECT file, ts, epoch, running, pending, flags, disk_bytes, new_flags, job_changes FROM snapshots ORDER BY epoch",
        "SELECT kind, key, sig, experiment, first_ts, last_ts, data FROM spans ORDER BY kind, key, first_epoch",
    ] {
        let mut st = db.prepare(sql).unwrap();
        let n = st.column_count();
        let rows = st
            .query_map([], |r| {
                let cells: Vec<String> = (0..n)
                    .map(|i| match r.get_ref(i).unwrap() {
                        rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                        other => format!("{other:?}"),
                    })
                    .collect();
                Ok(cells.join("|"))
            })
            .unwrap();
        out.extend(rows.map(|r| r.unwrap()));
    }
    out
}

/// Issue 13: indexing each file as it is written gives the same index as `reindex` from the
/// files (the JSON files are the source of truth).
#[test]
fn reindex_equals_incremental_indexing() {
    let dir = tempfile::tempdir().unwrap();
    for h in 0..HOURS {
        let name = write(dir.path(), h);
        index_file(dir.path(), &name, &snapshot_at(h)).unwrap();
    }
    let incremental = dump(dir.path());
    assert!(incremental.len() > HOURS as usize);
    let summary = reindex(dir.path()).unwrap();
    assert_eq!((summary.indexed, summary.skipped.len()), (HOURS as u64, 0));
    assert_eq!(dump(dir.path()), incremental);
    // A file written out of order (an older one copied in) rebuilds rather than mis-spans.
    let late = tempfile::tempdir().unwrap();
    for h in (0..HOURS).rev() {
        let name = write(late.path(), h);
        index_file(late.path(), &name, &snapshot_at(h)).unwrap();
    }
    assert_eq!(dump(late.path()), incremental);
}

/// Issue 13: files prune removed are forgotten: the spans keep what the remaining snapshots show.
#[test]
fn forgotten_files_trim_the_spans() {
    let dir = tempfile::tempdir().unwrap();
    write_history(dir.path());
    reindex(dir.path()).unwrap();
    let gone: Vec<String> = [3, 4].iter().map(|h| file_name(*h)).collect();
    for g in &gone {
        std::fs::remove_file(dir.path().join(g)).unwrap();
    }
    forget_files(dir.path(), &gone).unwrap();
    let (v, stderr) = json(dir.path(), &["--job", "1001"]);
    assert!(
        !stderr.contains("rebuilt"),
        "forgetting keeps the index current: {stderr}"
    );
    assert_eq!(v[0]["states"][1]["from"], ts(5));
    let (t, _) = json(dir.path(), &["--limit", "0"]);
    assert_eq!(t["snapshots"], HOURS - 2);
}

/// Issue 13: a damaged index (not a database) or a deleted one is rebuilt by the next query.
#[test]
fn damaged_or_deleted_index_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    write_history(dir.path());
    let index = dir.path().join(INDEX_FILE);
    std::fs::write(&index, b"this is not a database, it is a plank").unwrap();
    let (v, stderr) = json(dir.path(), &["--job", "1002"]);
    assert!(stderr.contains("rebuilt"), "{stderr}");
    assert_eq!(v[0]["end"]["state"], "FAILED");
    let (_, stderr) = json(dir.path(), &["--job", "1002"]);
    assert!(
        !stderr.contains("rebuilt"),
        "a current index is not rebuilt again: {stderr}"
    );
    std::fs::remove_file(&index).unwrap();
    let (v, stderr) = json(dir.path(), &["--at", "now"]);
    assert!(stderr.contains("rebuilt"), "{stderr}");
    assert_eq!(v["taken"], ts(HOURS - 1));
}

/// Issue 13: a `snapshot_*.json` that is not a snapshot is skipped with a warning naming it
/// (once: it is recorded, so the next query neither warns nor rebuilds); files written after
/// the last query are added without a rebuild.
#[test]
fn non_snapshots_are_skipped_and_new_files_caught_up() {
    let dir = tempfile::tempdir().unwrap();
    write_history(dir.path());
    std::fs::write(
        dir.path().join("snapshot_20260126_000000.json"),
        "{ half a file",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("snapshot_20260126_000001.json"),
        r#"{"foo": 1}"#,
    )
    .unwrap();
    let (t, stderr) = json(dir.path(), &["--limit", "0"]);
    assert_eq!(t["snapshots"], HOURS);
    assert!(
        stderr.contains("warning: skipped") && stderr.contains("snapshot_20260126_000000.json"),
        "{stderr}"
    );
    assert!(
        stderr.contains("snapshot_20260126_000001.json: no snapshot_timestamp"),
        "{stderr}"
    );
    write(dir.path(), HOURS);
    let (v, stderr) = json(dir.path(), &["--at", "now"]);
    assert!(
        !stderr.contains("warning") && !stderr.contains("rebuilt"),
        "{stderr}"
    );
    assert_eq!(v["taken"], ts(HOURS));
    let reindexed = assert_cmd::Command::cargo_bin("labtrail")
        .unwrap()
        .args(["snapshots", "reindex", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(reindexed.status.success());
    let said = String::from_utf8_lossy(&reindexed.stdout);
    assert!(
        said.contains(&format!("indexed {} snapshots", HOURS + 1))
            && said.contains("2 files skipped"),
        "{said}"
    );
}

/// Issue 13: seed 000's own file (bare local timestamp, no counts, flags without mtime) is
/// read: its jobs at a time, its flags.
#[test]
fn seed_format_files_are_queried() {
    let dir = tempfile::tempdir().unwrap();
    let seed = r#"{
  "snapshot_timestamp": "2026-01-27T18:00:00",
  "user": "paco0228",
  "running_jobs": [
    {"job_id": "23293371", "name": "mono_s2s", "state": "R", "time": "1:38:04", "node": "c3gpu-a9-u33-1"}
  ],
  "completion_flags": ["stage_0_setup_complete.flag", "stage_1_data_prep_complete.flag"],
  "disk_usage": {"mono_s2s_work": "45G"}
}"#;
    std::fs::write(dir.path().join("snapshot_20260127_180000.json"), seed).unwrap();
    let (v, _) = json(dir.path(), &["--at", "2026-01-27 18:05"]);
    assert_eq!(v["running"][0]["job_id"], "23293371");
    assert_eq!(v["age_s"], 300);
    let (f, _) = json(dir.path(), &["--flag", "stage_0_setup_complete.flag"]);
    assert_eq!(f[0]["first_seen"], "2026-01-27T18:00:00");
    let (t, _) = json(dir.path(), &[]);
    assert_eq!(
        (
            t["rows"][0]["running"].as_i64(),
            t["rows"][0]["disk_bytes"].as_i64()
        ),
        (Some(1), Some(45 << 30))
    );
}

/// Issue 13 (review r2 F2): forgetting snapshots that held a whole span (a job seen only in
/// the removed files, the normal case in a prune) keeps the index current instead of failing
/// on a NOT NULL column and leaving the next query a full rebuild.
#[test]
fn forgetting_whole_spans_keeps_the_index_current() {
    let dir = tempfile::tempdir().unwrap();
    write_history(dir.path());
    reindex(dir.path()).unwrap();
    // Hours 1-2 hold job 1001's whole pending span.
    let gone: Vec<String> = [1, 2].iter().map(|h| file_name(*h)).collect();
    for g in &gone {
        std::fs::remove_file(dir.path().join(g)).unwrap();
    }
    forget_files(dir.path(), &gone).unwrap();
    let (v, stderr) = json(dir.path(), &["--job", "1001"]);
    assert!(!stderr.contains("rebuilt"), "{stderr}");
    assert_eq!(v[0]["states"][0]["state"], "R");
    assert_eq!(v[0]["first_seen"], ts(3));
}

fn seed_file(dir: &Path, name: &str, ts: &str, jobs: &str) {
    let text = format!(
        r#"{{"snapshot_timestamp": "{ts}", "user": "paco", "running_jobs": [{jobs}],
           "completion_flags": [], "disk_usage": {{"w": "45G"}}}}"#
    );
    std::fs::write(dir.join(name), text).unwrap();
}

/// Issue 13 (review r2 F3, F9): `--at` shows what the answering snapshot saw, not a later
/// one of the same span (a running job's time, an experiment's queued count), and a seed
/// file's job (squeue's `time` text only) has its runtime.
#[test]
fn at_shows_values_as_of_that_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let job = |t: &str| {
        format!(
            r#"{{"job_id": "23293371", "name": "mono_s2s", "state": "R", "time": "{t}", "node": "c3"}}"#
        )
    };
    seed_file(
        dir.path(),
        "snapshot_20260126_180000.json",
        "2026-01-26T18:00:00",
        &job("1:38:04"),
    );
    seed_file(
        dir.path(),
        "snapshot_20260127_180000.json",
        "2026-01-27T18:00:00",
        &job("1-01:38:04"),
    );
    seed_file(
        dir.path(),
        "snapshot_20260128_180000.json",
        "2026-01-28T18:00:00",
        "",
    );
    let (v, _) = json(dir.path(), &["--at", "2026-01-26 18:00"]);
    assert_eq!(v["running"][0]["time"], "1:38:04");
    let (v, _) = json(dir.path(), &["--at", "2026-01-27 18:00"]);
    assert_eq!(v["running"][0]["time"], "1-01:38:04");
    let (j, _) = json(dir.path(), &["--job", "23293371"]);
    assert_eq!(j[0]["runtime_s"], 86_400 + 5884); // 1-01:38:04
                                                  // Labtrail's own files: job 1001 runs from hour 3 with elapsed_s growing hourly; the
                                                  // experiment's queued count is that snapshot's.
    let lab = tempfile::tempdir().unwrap();
    write_history(lab.path());
    let (v, _) = json(lab.path(), &["--at", &ts(5)]);
    let job = v["running"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job_id"] == "1001")
        .unwrap()
        .clone();
    assert_eq!(job["elapsed_s"], 2 * 3600);
    for e in v["experiments"].as_array().unwrap() {
        let own = v["running"]
            .as_array()
            .unwrap()
            .iter()
            .chain(v["waiting"].as_array().unwrap())
            .filter(|j| j["experiment"] == e["name"])
            .count();
        assert_eq!(e["queued_jobs"], own as u64, "{e}");
    }
}
