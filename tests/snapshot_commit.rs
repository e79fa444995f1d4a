//! Issue 13: `snapshot --commit` commits the snapshot folder and nothing else, in the user's own
//! repository with the user's own git: their other staged files stay staged and uncommitted, a
//! held `index.lock` is waited for then skipped with a warning, and a repository without an
//! identity (cron's bare environment) still gets its commit.

use labtrail::snapshot::git_commit::{commit_folder, CommitOutcome};
use std::path::Path;
use std::process::Command;

fn git(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
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

/// A repository with one commit (`code.py`) and a snapshot folder `experiment_snapshots`.
fn repo() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    git(r, &["init", "-q", "-b", "main"]);
    git(r, &["config", "user.name", "Test User"]);
    git(r, &["config", "user.email", "test@example.org"]);
    std::fs::write(r.join("code.py"), "print(1)\n").unwrap();
    git(r, &["add", "code.py"]);
    git(r, &["commit", "-q", "-m", "code"]);
    std::fs::create_dir(r.join("experiment_snapshots")).unwrap();
    tmp
}

fn lines(text: &str) -> Vec<&str> {
    let mut v: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    v.sort();
    v
}

/// Issue 13: the user's other staged files (a new one and a change) stay staged and out of the
/// snapshot's commit; the commit holds the folder's files with the given message.
#[test]
fn commit_leaves_the_users_staged_files_staged_and_uncommitted() {
    let tmp = repo();
    let r = tmp.path();
    let snaps = r.join("experiment_snapshots");
    std::fs::write(r.join("code.py"), "print(2)\n").unwrap();
    std::fs::write(r.join("notes.md"), "wip\n").unwrap();
    git(r, &["add", "code.py", "notes.md"]);
    std::fs::write(snaps.join("snapshot_20260127_180000.json"), "{}\n").unwrap();
    std::fs::write(
        snaps.join(".gitignore"),
        labtrail::snapshot::write::GITIGNORE,
    )
    .unwrap();
    std::fs::write(snaps.join(".snapshot.lock"), "ignored").unwrap();
    let out = commit_folder(&snaps, "snapshot 2026-01-27T18:00:00+01:00 3 running");
    let CommitOutcome::Committed(id) = out else {
        panic!("{out:?}")
    };
    assert_eq!(git(r, &["rev-parse", "HEAD"]).trim(), id);
    assert_eq!(
        lines(&git(r, &["show", "--name-only", "--format=", "HEAD"])),
        [
            "experiment_snapshots/.gitignore",
            "experiment_snapshots/snapshot_20260127_180000.json"
        ]
    );
    assert_eq!(
        git(r, &["log", "-1", "--format=%s %an"]).trim(),
        "snapshot 2026-01-27T18:00:00+01:00 3 running Test User"
    );
    assert_eq!(
        lines(&git(r, &["diff", "--cached", "--name-only"])),
        ["code.py", "notes.md"],
        "still staged"
    );
    assert_eq!(git(r, &["show", "HEAD:code.py"]), "print(1)\n");
    assert_eq!(
        std::fs::read_to_string(r.join("code.py")).unwrap(),
        "print(2)\n"
    );
    // Nothing new in the folder: nothing to commit.
    assert_eq!(
        commit_folder(&snaps, "again"),
        CommitOutcome::NothingToCommit
    );
}

/// Issue 13: files pruned from the folder are removed in the commit (`prune --apply`).
#[test]
fn removed_files_are_committed_as_removed() {
    let tmp = repo();
    let r = tmp.path();
    let snaps = r.join("experiment_snapshots");
    for n in [
        "snapshot_20260101_000000.json",
        "snapshot_20260102_000000.json",
    ] {
        std::fs::write(snaps.join(n), "{}\n").unwrap();
    }
    assert!(matches!(
        commit_folder(&snaps, "two"),
        CommitOutcome::Committed(_)
    ));
    std::fs::remove_file(snaps.join("snapshot_20260101_000000.json")).unwrap();
    assert!(matches!(
        commit_folder(&snaps, "prune: kept 1, removed 1"),
        CommitOutcome::Committed(_)
    ));
    assert_eq!(
        git(r, &["show", "--name-status", "--format=", "HEAD"]).trim(),
        "D\texperiment_snapshots/snapshot_20260101_000000.json"
    );
}

/// Issue 13: another git command holding `index.lock` past the retries: skipped with a warning
/// that says so (the caller still exits 0); once it is gone, the next commit takes the file.
#[test]
fn a_held_index_lock_is_retried_then_skipped_with_a_warning() {
    let tmp = repo();
    let r = tmp.path();
    let snaps = r.join("experiment_snapshots");
    std::fs::write(snaps.join("snapshot_20260127_180000.json"), "{}\n").unwrap();
    let lock = r.join(".git/index.lock");
    std::fs::write(&lock, "").unwrap();
    let out = commit_folder(&snaps, "snapshot x 0 running");
    let CommitOutcome::Skipped(warning) = out else {
        panic!("{out:?}")
    };
    assert!(warning.contains("index.lock"), "{warning}");
    assert_eq!(git(r, &["rev-list", "--count", "HEAD"]).trim(), "1");
    std::fs::remove_file(&lock).unwrap();
    assert!(matches!(
        commit_folder(&snaps, "snapshot y 0 running"),
        CommitOutcome::Committed(_)
    ));
}

/// Issue 13: an `index.lock` released while the retries go on (another git finishing): the
/// commit is made.
#[test]
fn an_index_lock_released_during_the_retries_is_waited_for() {
    let tmp = repo();
    let r = tmp.path();
    let snaps = r.join("experiment_snapshots");
    std::fs::write(snaps.join("snapshot_20260127_180000.json"), "{}\n").unwrap();
    let lock = r.join(".git/index.lock");
    std::fs::write(&lock, "").unwrap();
    let remover = {
        let lock = lock.clone();
        std::thread::spawn(move || {
            // Released once the first try has met it.
            std::thread::sleep(std::time::Duration::from_millis(600));
            std::fs::remove_file(lock).unwrap();
        })
    };
    let out = commit_folder(&snaps, "snapshot x 0 running");
    remover.join().unwrap();
    assert!(matches!(out, CommitOutcome::Committed(_)), "{out:?}");
}

/// Issue 13: a folder outside any git work tree is said so, not an error.
#[test]
fn a_folder_outside_git_is_not_a_repository() {
    let tmp = tempfile::tempdir().unwrap();
    assert_eq!(
        commit_folder(tmp.path(), "x"),
        CommitOutcome::NotARepository
    );
}

/// The child: commits `$SNAP_DIR` in the environment the parent gave it.
#[test]
fn child_commit() {
    if std::env::var("LABTRAIL_TEST_CHILD").as_deref() != Ok("commit") {
        return;
    }
    let dir = std::env::var("SNAP_DIR").unwrap();
    println!(
        "OUTCOME {:?}",
        commit_folder(Path::new(&dir), "snapshot from cron")
    );
}

/// Issue 13: from cron's bare environment, in a repository without a configured identity (no
/// global config, a home folder without one, git told not to guess from the host name): the
/// commit is still made, with labtrail's fallback identity.
#[test]
fn a_repository_without_an_identity_still_gets_its_commit() {
    let tmp = repo();
    let r = tmp.path();
    git(r, &["config", "--unset", "user.name"]);
    git(r, &["config", "--unset", "user.email"]);
    git(r, &["config", "user.useConfigOnly", "true"]);
    let snaps = r.join("experiment_snapshots");
    std::fs::write(snaps.join("snapshot_20260127_180000.json"), "{}\n").unwrap();
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["child_commit", "--exact", "--nocapture", "--test-threads=1"])
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", home.path())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("LABTRAIL_TEST_CHILD", "commit")
        .env("SNAP_DIR", &snaps)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("OUTCOME Committed("), "{stdout}");
    let author = git(r, &["log", "-1", "--format=%an <%ae>"]);
    assert!(author.contains("(labtrail)"), "{author}");
}
