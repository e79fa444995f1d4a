//! Issue 13 (fix round): `snapshots prune --apply` holds the snapshot folder's lock, as
//! `labtrail snapshot` does, so a snapshot taken meanwhile waits and never lands in (or is
//! removed by) the prune's commit.

use labtrail::snapshot::model::Snapshot;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_labtrail");

fn git(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(repo)
        .env("HOME", repo)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .args(args)
        .output()
        .expect("git");
    assert!(out.status.success(), "git {args:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn labtrail(repo: &Path, args: &[&str], fault: Option<&Path>) -> Child {
    let mut c = Command::new(BIN);
    c.current_dir(repo)
        .args(args)
        .env("TZ", "UTC")
        .env("HOME", repo)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("LABTRAIL_SQUEUE", "/nonexistent/squeue")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(gate) = fault {
        c.env("LABTRAIL_FAULT", "pause:prune-locked")
            .env("LABTRAIL_FAULT_GATE", gate);
    }
    c.spawn().expect("run labtrail")
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn finish(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{err}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Issue 13 (fix round, prune and snapshot interleaving): while a prune removes and commits it
/// holds `.snapshot.lock` (naming its pid); a snapshot started then waits for it, and is
/// neither in the prune's commit nor removed by it.
#[test]
fn apply_holds_the_folder_lock_against_a_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path();
    let dir: PathBuf = repo.join("experiment_snapshots");
    std::fs::create_dir_all(&dir).unwrap();
    for h in 0..10 {
        let s = Snapshot {
            snapshot_timestamp: format!("2025-05-01T{h:02}:00:00+00:00"),
            schema: 1,
            ..Snapshot::default()
        };
        let name = format!("snapshot_20250501_{h:02}0000.json");
        std::fs::write(dir.join(name), serde_json::to_string(&s).unwrap()).unwrap();
    }
    git(repo, &["init", "-q"]);
    git(repo, &["config", "user.email", "t@example.org"]);
    git(repo, &["config", "user.name", "t"]);
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-qm", "snapshots"]);

    let gate = repo.join("gate");
    let prune = labtrail(
        repo,
        &["snapshots", "prune", "--keep-last", "3", "--apply"],
        Some(&gate),
    );
    let paused = repo.join("gate.paused");
    wait_for("the prune to hold the lock", || paused.exists());
    let lock = std::fs::read_to_string(dir.join(".snapshot.lock")).expect("the prune's lock");
    assert!(lock.contains(&format!(":{}:", prune.id())), "{lock}");

    let snapshot = labtrail(repo, &["snapshot", "--dir", "experiment_snapshots"], None);
    std::fs::write(&gate, "").unwrap();
    let said = finish(prune);
    assert!(said.contains("kept 3, removed 7"), "{said}");
    finish(snapshot);

    // The prune's commit: the 7 removals only; the new snapshot is there, after it.
    let changed = git(repo, &["show", "--name-status", "--format=", "HEAD"]);
    assert_eq!(changed.lines().count(), 7, "{changed}");
    assert!(changed.lines().all(|l| l.starts_with("D\t")), "{changed}");
    let left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("snapshot_"))
        .collect();
    assert_eq!(left.len(), 4, "{left:?}");
    assert!(!dir.join(".snapshot.lock").exists());
}
