//! Issue 13: `labtrail snapshots prune` on real snapshot folders, through the binary: a dry run
//! by default that lists keep/remove with the reasons and touches nothing, `--json`, restic's
//! rules in local time, the seed's policy on a generated history, and `--apply` in a git
//! repository: one commit of the snapshot folder, the user's other staged files left alone.

use labtrail::snapshot::model::{Experiment, Job, Snapshot};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_labtrail");

/// A snapshot taken at `time` (UTC, `2025-05-01T10:00:00Z`), seeing `experiments` and `jobs`.
fn snapshot(time: &str, experiments: Vec<Experiment>, jobs: Vec<Job>) -> Snapshot {
    Snapshot {
        snapshot_timestamp: time.replace('Z', "+00:00"),
        user: "alice".into(),
        schema: 1,
        running_jobs: jobs,
        experiments,
        ..Snapshot::default()
    }
}

/// Writes `s` into `dir` under the name the writer gives it (UTC here) and returns the name.
fn write(dir: &Path, s: &Snapshot) -> String {
    let t: jiff::Timestamp = s.snapshot_timestamp.parse().expect("time");
    let name = format!("snapshot_{}.json", t.strftime("%Y%m%d_%H%M%S"));
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(&name), serde_json::to_string_pretty(s).unwrap()).unwrap();
    name
}

fn exp(name: &str, active: bool) -> Experiment {
    Experiment {
        name: name.into(),
        source: "rule".into(),
        active,
        ..Experiment::default()
    }
}

fn job(id: &str, state: &str) -> Job {
    Job {
        job_id: id.into(),
        name: "train".into(),
        state: state.into(),
        ..Job::default()
    }
}

fn prune(cwd: &Path, tz: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(cwd)
        .args(["snapshots", "prune"])
        .args(args)
        .env("TZ", tz)
        .env("HOME", cwd)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("run labtrail")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Ten hourly snapshots of one active experiment, oldest first.
fn hourly(dir: &Path) -> Vec<String> {
    (0..10)
        .map(|h| {
            let t = format!("2025-05-01T{h:02}:00:00Z");
            write(
                dir,
                &snapshot(&t, vec![exp("a", true)], vec![job("1", "R")]),
            )
        })
        .collect()
}

/// The JSON decisions: (file, keep, reasons).
fn decisions(out: &Output) -> Vec<(String, bool, Vec<String>)> {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    v["snapshots"]
        .as_array()
        .expect("snapshots")
        .iter()
        .map(|d| {
            let reasons = d["reasons"].as_array().unwrap();
            let reasons = reasons
                .iter()
                .map(|r| r.as_str().unwrap().to_string())
                .collect();
            (
                d["file"].as_str().unwrap().to_string(),
                d["keep"].as_bool().unwrap(),
                reasons,
            )
        })
        .collect()
}

fn kept(out: &Output) -> Vec<String> {
    let mut k: Vec<String> = decisions(out)
        .into_iter()
        .filter(|d| d.1)
        .map(|d| d.0)
        .collect();
    k.sort();
    k
}

/// Issue 13: without --apply nothing changes; the output says keep/remove and why, per file.
#[test]
fn dry_run_lists_reasons_and_touches_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("experiment_snapshots");
    let names = hourly(&dir);
    let before: Vec<Vec<u8>> = names
        .iter()
        .map(|n| std::fs::read(dir.join(n)).unwrap())
        .collect();
    let out = prune(tmp.path(), "UTC", &["--keep-last", "3"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("Policy: keep 3 latest snapshots"), "{text}");
    for n in &names[7..] {
        assert!(
            text.contains(&format!("keep    {n}  2025-05-01T")),
            "{text}"
        );
    }
    assert!(text.contains("last snapshot"), "{text}");
    for n in &names[..7] {
        assert!(text.contains(&format!("remove  {n}")), "{text}");
    }
    assert!(text.contains("kept 3, would remove 7 (a dry run"), "{text}");
    let after: Vec<Vec<u8>> = names
        .iter()
        .map(|n| std::fs::read(dir.join(n)).unwrap())
        .collect();
    assert_eq!(files(&dir), names);
    assert_eq!(before, after);
}

/// Issue 13: `--json` carries each decision with its reasons and the counts.
#[test]
fn json_lists_every_decision() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("snaps");
    let names = hourly(&dir);
    let out = prune(
        tmp.path(),
        "UTC",
        &["--dir", "snaps", "--keep-within", "2h", "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["kept"].as_u64(), v["removed"].as_u64()),
        (Some(2), Some(8))
    );
    assert_eq!(v["applied"], false);
    let d = decisions(&out);
    assert_eq!(
        d[0],
        (names[9].clone(), true, vec!["within 2h".to_string()])
    );
    assert_eq!(d[2], (names[7].clone(), false, vec![]));
}

/// Issue 13: an empty policy, a missing folder and a bad duration are refused with what to do.
#[test]
fn bad_input_is_refused_with_help() {
    let tmp = tempfile::tempdir().unwrap();
    hourly(&tmp.path().join("experiment_snapshots"));
    let out = prune(tmp.path(), "UTC", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no retention policy given"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("--policy seed"), "{}", stderr(&out));
    let out = prune(tmp.path(), "UTC", &["--dir", "nowhere", "--keep-last", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("nowhere: no such snapshot folder"),
        "{}",
        stderr(&out)
    );
    let out = prune(tmp.path(), "UTC", &["--keep-within", "1w"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown unit `w`"),
        "{}",
        stderr(&out)
    );
    let out = prune(tmp.path(), "UTC", &["--keep-daily", "many"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("`unlimited`"), "{}", stderr(&out));
    assert_eq!(files(&tmp.path().join("experiment_snapshots")).len(), 10);
}

/// Issue 13 (review r2 F15): calendar buckets are each snapshot's own offset, as restic's (Go
/// keeps the offset a time was written with), whatever `TZ` prune runs under: three snapshots
/// written in Berlin on 1 January (one at 00:30+01:00, still 31 December in UTC) are one day.
/// Real restic 0.14 and restic's `ApplyPolicy` keep `c` and the oldest `a` with
/// `--keep-daily 2`; bucketing in UTC kept `b` as 31 December's.
#[test]
fn calendar_buckets_are_each_snapshots_own_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("experiment_snapshots");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, t) in [
        ("a", "2026-01-01T00:30:00+01:00"),
        ("b", "2026-01-01T00:40:00+01:00"),
        ("c", "2026-01-01T12:00:00+01:00"),
    ] {
        let s = format!("{{\"snapshot_timestamp\":\"{t}\"}}");
        std::fs::write(dir.join(format!("snapshot_20260101_{name}.json")), s).unwrap();
    }
    for tz in ["UTC", "Europe/Berlin", "America/New_York"] {
        let out = prune(tmp.path(), tz, &["--keep-daily", "2", "--json"]);
        assert_eq!(
            kept(&out),
            ["snapshot_20260101_a.json", "snapshot_20260101_c.json"],
            "TZ={tz}"
        );
    }
    // Shown in local time all the same.
    let text = stdout(&prune(tmp.path(), "UTC", &["--keep-daily", "2"]));
    assert!(text.contains("2025-12-31T23:30:00+00:00"), "{text}");
    // Seed 000's bare local times have no offset: those are taken in TZ.
    let bare = tmp.path().join("bare");
    std::fs::create_dir_all(&bare).unwrap();
    for (name, t) in [("a", "2026-01-01T00:30:00"), ("b", "2026-01-01T23:30:00")] {
        let s = format!("{{\"snapshot_timestamp\":\"{t}\"}}");
        std::fs::write(bare.join(format!("snapshot_2026_{name}.json")), s).unwrap();
    }
    let out = prune(
        tmp.path(),
        "Europe/Berlin",
        &["--dir", "bare", "--keep-daily", "1", "--json"],
    );
    assert_eq!(kept(&out), ["snapshot_2026_b.json"]);
}

/// Issue 13 (review r2 F16): restic's `-1` for unlimited is accepted as restic spells it.
#[test]
fn minus_one_means_unlimited() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("experiment_snapshots");
    let names = hourly(&dir);
    let out = prune(tmp.path(), "UTC", &["--keep-hourly", "-1", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(kept(&out), names);
}

/// Issue 13: a file that is not a snapshot is kept, said so, and never removed.
#[test]
fn unreadable_files_are_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("experiment_snapshots");
    let names = hourly(&dir);
    std::fs::write(dir.join("snapshot_20240101_000000.json"), "{not json").unwrap();
    let out = prune(tmp.path(), "UTC", &["--keep-last", "1", "--apply"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("unreadable, kept"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        files(&dir),
        ["snapshot_20240101_000000.json", names[9].as_str()]
    );
}

fn git(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(repo)
        .env("HOME", repo)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .args(args)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A git repository with the hourly snapshots committed and the user's `notes.txt` staged.
fn repo_with_snapshots() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path();
    git(repo, &["init", "-q"]);
    let dir = repo.join("experiment_snapshots");
    hourly(&dir);
    let id = ["-c", "user.name=u", "-c", "user.email=u@x"];
    git(repo, &["add", "."]);
    git(
        repo,
        &[&id[..], &["commit", "-q", "-m", "snapshots"][..]].concat(),
    );
    std::fs::write(repo.join("notes.txt"), "mine\n").unwrap();
    git(repo, &["add", "notes.txt"]);
    (tmp, dir)
}

/// Issue 13: `--apply` removes in one commit `prune: kept N, removed M (policy ...)` of the
/// snapshot folder only; the user's staged file stays staged and uncommitted.
#[test]
fn apply_commits_the_folder_only_once() {
    let (tmp, dir) = repo_with_snapshots();
    let repo = tmp.path();
    let out = prune(repo, "UTC", &["--keep-last", "3", "--apply"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("kept 3, removed 7"),
        "{}",
        stdout(&out)
    );
    assert_eq!(files(&dir).len(), 3);
    let log = git(repo, &["log", "--format=%s"]);
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        [
            "prune: kept 3, removed 7 (policy keep 3 latest snapshots)",
            "snapshots"
        ]
    );
    let changed = git(repo, &["show", "--name-status", "--format=", "HEAD"]);
    assert_eq!(changed.lines().count(), 7, "{changed}");
    assert!(
        changed
            .lines()
            .all(|l| l.starts_with("D\texperiment_snapshots/")),
        "{changed}"
    );
    assert_eq!(
        git(repo, &["diff", "--cached", "--name-only"]),
        "notes.txt\n"
    );
    // Again: nothing more to remove, no empty commit.
    let again = prune(repo, "UTC", &["--keep-last", "3", "--apply"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(git(repo, &["log", "--format=%s"]).lines().count(), 2);
}

/// Issue 13: a prune killed midway (a power cut after its first unlink: nothing committed) left
/// whole snapshot files only, and running it again finishes the job in one commit.
#[test]
fn apply_again_finishes_a_crashed_prune() {
    let (tmp, dir) = repo_with_snapshots();
    let repo = tmp.path();
    let crashed = Command::new(BIN)
        .current_dir(repo)
        .args(["snapshots", "prune", "--keep-last", "3", "--apply"])
        .env("TZ", "UTC")
        .env("HOME", repo)
        .env("LABTRAIL_FAULT", "prune-after-first-unlink")
        .output()
        .unwrap();
    assert_ne!(crashed.status.code(), Some(0), "{}", stderr(&crashed));
    let left: Vec<String> = files(&dir)
        .into_iter()
        .filter(|f| f.starts_with("snapshot_"))
        .collect();
    assert_eq!(left.len(), 9, "one file removed before the crash");
    for f in &left {
        let text = std::fs::read_to_string(dir.join(f)).unwrap();
        serde_json::from_str::<Snapshot>(&text).expect("a whole snapshot");
    }
    assert_eq!(git(repo, &["log", "--format=%s"]).lines().count(), 1);
    let out = prune(repo, "UTC", &["--keep-last", "3", "--apply"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The crashed run's lock (its pid is dead) was taken over, and is gone again.
    assert_eq!(files(&dir).len(), 3, "{:?}", files(&dir));
    let changed = git(repo, &["show", "--name-status", "--format=", "HEAD"]);
    assert_eq!(changed.lines().count(), 7, "{changed}");
    // Issue 13 (review r2 F17): the message counts the commit's removals, the crashed run's too.
    assert_eq!(
        git(repo, &["log", "-1", "--format=%s"]).trim(),
        "prune: kept 3, removed 7 (policy keep 3 latest snapshots)"
    );
    assert_eq!(
        git(repo, &["diff", "--cached", "--name-only"]),
        "notes.txt\n"
    );
}

/// Issue 13: `--apply` makes the index forget the removed files (queries never show them).
#[test]
fn apply_forgets_the_removed_files_in_the_index() {
    use labtrail::store::snapshot_index::{SnapshotIndex, INDEX_FILE};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("experiment_snapshots");
    let names = hourly(&dir);
    let reindex = Command::new(BIN)
        .current_dir(tmp.path())
        .args(["snapshots", "reindex"])
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert_eq!(reindex.status.code(), Some(0), "{}", stderr(&reindex));
    let known = || {
        let index = SnapshotIndex::open(&dir.join(INDEX_FILE), false).expect("the index");
        index.files_known().expect("files known")
    };
    assert_eq!(known().0, 10);
    let out = prune(tmp.path(), "UTC", &["--keep-last", "3", "--apply"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(known(), (3, Some(names[9].clone())));
}

/// Issue 13 (review r2 F1): in a seed-style folder (no `.gitignore` of labtrail's), the index
/// database a query made is never committed by `--apply`: only the removals are.
#[test]
fn apply_never_commits_the_index_database() {
    let (tmp, dir) = repo_with_snapshots();
    let repo = tmp.path();
    let query = Command::new(BIN)
        .current_dir(repo)
        .args(["snapshots", "--limit", "3"])
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert_eq!(query.status.code(), Some(0), "{}", stderr(&query));
    assert!(dir.join(".snapshot-index.db").exists());
    let out = prune(repo, "UTC", &["--keep-last", "3", "--apply"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let tracked = git(repo, &["ls-files"]);
    assert!(!tracked.contains(".snapshot-index"), "{tracked}");
    let changed = git(repo, &["show", "--name-status", "--format=", "HEAD"]);
    assert!(
        changed
            .lines()
            .all(|l| l.starts_with("D\texperiment_snapshots/snapshot_")),
        "{changed}"
    );
    assert_eq!(
        git(repo, &["status", "--porcelain", "--", "notes.txt"]),
        "A  notes.txt\n"
    );
}
