//! Issue 13 (review r2 F6, F7, F8, F14; r3 #12): the snapshot index follows its folder: damage
//! found only by a query is rebuilt, a read-only folder still answers, renamed and fixed files
//! are seen, two hosts' offsets in one folder do not rebuild on every new file, and files of
//! the same second keep their order.

mod snapshots_common;

use labtrail::app::snapshots_index::reindex;
use labtrail::store::snapshot_index::INDEX_FILE;
use snapshots_common::{json, write_history, HOURS};
use std::path::Path;

/// A labtrail-format snapshot file with running jobs (`id` on `node`).
fn snap(dir: &Path, name: &str, ts: &str, jobs: &[&str], scheduler: &str) {
    let jobs: Vec<String> = jobs
        .iter()
        .map(|id| format!(r#"{{"job_id": "{id}", "state": "R", "node": "n1"}}"#))
        .collect();
    let text = format!(
        r#"{{"schema": 1, "snapshot_timestamp": "{ts}", "running_jobs": [{}],
           "counts": {{"running": {}}}, "scheduler": {{"status": "{scheduler}"}}}}"#,
        jobs.join(","),
        jobs.len()
    );
    std::fs::write(dir.join(name), text).unwrap();
}

/// Issue 13 (review r2 F6): a corrupt page in a table only a query reads (not the freshness
/// check's) gets the index rebuilt and the query answered, not exit 5.
#[test]
fn damage_found_by_a_query_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    write_history(dir.path());
    reindex(dir.path()).unwrap();
    let db = dir.path().join(INDEX_FILE);
    let page: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT rootpage FROM sqlite_master WHERE name = 'spans_key'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let mut bytes = std::fs::read(&db).unwrap();
    let at = (page as usize - 1) * 4096;
    bytes[at..at + 200].fill(0xff);
    std::fs::write(&db, bytes).unwrap();
    let (v, stderr) = json(dir.path(), &["--job", "1002"]);
    assert!(stderr.contains("rebuilt"), "{stderr}");
    assert_eq!(v[0]["end"]["state"], "FAILED");
}

/// Issue 13 (review r2 F7): a folder the asker may read but not write still answers (the
/// index is built in a temporary place and nothing is left behind); `reindex` says why it
/// cannot keep one there. Runs the binary as `nobody` (root can write anywhere); skipped
/// loudly when that is not possible.
#[test]
fn read_only_folder_still_answers() {
    let is_root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if !is_root || which("runuser").is_none() {
        eprintln!("SKIPPED read_only_folder_still_answers: needs root and runuser");
        return;
    }
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("snaps");
    std::fs::create_dir(&dir).unwrap();
    write_history(&dir);
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o444)).unwrap();
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    std::fs::set_permissions(parent.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("labtrail");
    let as_nobody = |args: &[&str]| {
        std::process::Command::new("runuser")
            .args(["-u", "nobody", "--"])
            .arg(&bin)
            .args(["snapshots", "--dir"])
            .arg(&dir)
            .args(args)
            .env("TZ", "UTC")
            .output()
            .unwrap()
    };
    let out = as_nobody(&["--json", "--job", "1002"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("not writable"), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["end"]["state"], "FAILED");
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| !n.ends_with(".json"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let out = std::process::Command::new("runuser")
        .args(["-u", "nobody", "--"])
        .arg(&bin)
        .args(["snapshots", "reindex", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("is not writable"), "{stderr}");
}

fn which(cmd: &str) -> Option<()> {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| ())
}

/// Issue 13 (review r2 F8): a file renamed in the middle (count and newest name unchanged)
/// and a skipped file fixed in place are seen: no answer from a file that is gone, the fixed
/// file's job is found.
#[test]
fn renamed_and_fixed_files_are_seen() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for h in 0..6 {
        let jobs: &[&str] = if h < 4 { &["100"] } else { &[] };
        snap(
            d,
            &format!("snapshot_20260301_{h:02}0000.json"),
            &format!("2026-03-01T{h:02}:00:00+00:00"),
            jobs,
            "slurm",
        );
    }
    json(d, &[]);
    std::fs::remove_file(d.join("snapshot_20260301_030000.json")).unwrap();
    snap(
        d,
        "snapshot_20260301_033000.json",
        "2026-03-01T03:30:00+00:00",
        &["100"],
        "slurm",
    );
    let (v, _) = json(d, &["--at", "2026-03-01T03:40:00Z"]);
    assert_eq!(v["snapshot"], "snapshot_20260301_033000.json");
    let bad = d.join("snapshot_20260301_013000.json");
    std::fs::write(&bad, "not json").unwrap();
    let (_, stderr) = json(d, &[]);
    assert!(stderr.contains("skipped"), "{stderr}");
    std::fs::write(
        &bad,
        r#"{"snapshot_timestamp":"2026-03-01T01:30:00Z","running_jobs":[{"job_id":"42","state":"R"}]}"#,
    )
    .unwrap();
    let (j, _) = json(d, &["--job", "42"]);
    assert_eq!(j[0]["first_seen"], "2026-03-01T01:30:00Z");
}

/// Issue 13 (review r2 F14, r3 #12): files from a host in UTC and one in +01:00 alternate in
/// one folder; a new file is added, not a rebuild of everything. Two files of the same
/// second (`-2`) keep the order they were taken in.
#[test]
fn two_offsets_in_one_folder_do_not_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for i in 0..10i64 {
        let t = jiff::Timestamp::from_second(1_772_323_200 + i * 1800).unwrap();
        let off = if i % 2 == 1 { 1 } else { 0 };
        let z = t.to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(off)));
        let name = z.strftime("snapshot_%Y%m%d_%H%M%S.json").to_string();
        let ts = z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string();
        snap(d, &name, &ts, &["1"], "slurm");
    }
    json(d, &[]);
    snap(
        d,
        "snapshot_20260301_050000.json",
        "2026-03-01T05:00:00+00:00",
        &["1"],
        "slurm",
    );
    let (t, stderr) = json(d, &["--limit", "0"]);
    assert!(!stderr.contains("rebuilt"), "{stderr}");
    assert_eq!(t["snapshots"], 11);
    // Same second: the plain name first, then -2 (which byte order puts first).
    snap(
        d,
        "snapshot_20260301_060000.json",
        "2026-03-01T06:00:00+00:00",
        &["1"],
        "slurm",
    );
    snap(
        d,
        "snapshot_20260301_060000-2.json",
        "2026-03-01T06:00:00+00:00",
        &[],
        "slurm",
    );
    let (v, _) = json(d, &["--at", "2026-03-01T06:00:00Z"]);
    assert_eq!(v["snapshot"], "snapshot_20260301_060000-2.json");
    let _ = HOURS;
}
