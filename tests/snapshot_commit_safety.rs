//! Issue 13 (review r1 H1, H2, M1, M2, M10): `snapshot --commit` in the user's repository never
//! commits or stages anything but labtrail's snapshot files, never leaves the repository locked
//! or with our files staged, and stays out of a detached HEAD or an operation under way.

mod common;
use common::Exp;
use std::path::Path;
use std::process::Command;

const NO_SQUEUE: (&str, &str) = ("LABTRAIL_SQUEUE", "/nonexistent/squeue");

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A repository in the experiment folder with one commit (`a.txt`).
fn repo() -> Exp {
    let exp = Exp::new("");
    let r = exp.path();
    git(r, &["init", "-q", "-b", "main"]);
    git(r, &["config", "user.name", "t"]);
    git(r, &["config", "user.email", "t@t"]);
    exp.write("a.txt", "a\n");
    git(r, &["add", "a.txt", "exp.toml"]);
    git(r, &["commit", "-q", "-m", "init"]);
    exp
}

fn snapshot(exp: &Exp, dir: &str, env: &[(&str, &str)]) -> common::Out {
    let mut c = exp.cmd(&["snapshot", "--dir", dir, "--commit"]);
    c.env(NO_SQUEUE.0, NO_SQUEUE.1);
    for (k, v) in env {
        c.env(k, v);
    }
    common::Out(c.output().unwrap())
}

fn hook(exp: &Exp, script: &str) {
    exp.write_executable(".git/hooks/pre-commit", script);
}

fn sorted(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text.lines().map(str::to_string).collect();
    v.sort();
    v
}

/// Issue 13 (review r1 H2): `--dir .` at the work tree's root: the commit holds the snapshot
/// file and labtrail's `.gitignore`, nothing of the user's staged, unstaged or untracked files,
/// which stay as they were.
#[test]
fn dir_dot_commits_only_the_snapshot_files() {
    let exp = repo();
    let r = exp.path();
    exp.write("b.txt", "b\n");
    git(r, &["add", "b.txt"]);
    exp.write("a.txt", "changed\n");
    exp.write("untracked.txt", "secret\n");
    let out = snapshot(&exp, ".", &[]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(out.stdout().contains("committed "), "{}", out.stdout());
    let committed = sorted(&git(r, &["show", "--name-only", "--format=", "HEAD"]));
    assert_eq!(committed.len(), 2, "{committed:?}");
    assert_eq!(committed[0], ".gitignore");
    assert!(committed[1].starts_with("snapshot_"), "{committed:?}");
    assert_eq!(
        sorted(&git(r, &["status", "--porcelain"])),
        [" M a.txt", "?? untracked.txt", "A  b.txt"]
    );
}

/// Issue 13 (review r1 M2): a folder with the user's own `.gitignore` (which does not list
/// labtrail's working files): the index database and the lock are never committed, nor the
/// user's `.gitignore`.
#[test]
fn a_users_gitignore_does_not_let_the_index_database_in() {
    let exp = repo();
    let r = exp.path();
    std::fs::create_dir(r.join("snaps")).unwrap();
    exp.write("snaps/.gitignore", "*.tmp\n");
    let out = snapshot(&exp, "snaps", &[]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(r.join("snaps/.snapshot-index.db").exists());
    let tracked = git(r, &["ls-files", "snaps"]);
    assert_eq!(tracked.lines().count(), 1, "{tracked}");
    assert!(tracked.starts_with("snaps/snapshot_"), "{tracked}");
    assert_eq!(git(r, &["diff", "--cached", "--name-only"]), "");
}

/// Issue 13 (review r1 H1): a pre-commit hook past git's time limit: git gets SIGTERM first and
/// removes its `index.lock`, so the user's next git command works; nothing of ours is left
/// staged; a warning, exit 0, the snapshot written.
#[test]
fn a_hook_past_the_time_limit_leaves_the_repository_unlocked() {
    let exp = repo();
    let r = exp.path();
    hook(&exp, "#!/bin/sh\nsleep 60\n");
    let out = snapshot(&exp, "snaps", &[("LABTRAIL_SNAPSHOT_GIT_TIMEOUT", "1s")]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr().contains("did not answer within"),
        "{}",
        out.stderr()
    );
    assert!(
        !r.join(".git/index.lock").exists(),
        "the repository is left locked"
    );
    assert_eq!(
        git(r, &["diff", "--cached", "--name-only"]),
        "",
        "left staged"
    );
    exp.write("f.txt", "x\n");
    git(r, &["add", "f.txt"]);
}

/// Issue 13 (review r1 M1): a pre-commit hook that fails: the warning says so, exit 0, and the
/// snapshot files are not left staged for the user's next own commit.
#[test]
fn a_failed_commit_leaves_nothing_staged() {
    let exp = repo();
    let r = exp.path();
    hook(&exp, "#!/bin/sh\necho no >&2\nexit 1\n");
    let out = snapshot(&exp, "snaps", &[]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr().contains("was not committed"),
        "{}",
        out.stderr()
    );
    assert_eq!(git(r, &["diff", "--cached", "--name-only"]), "");
    assert_eq!(git(r, &["rev-list", "--count", "HEAD"]).trim(), "1");
}

/// Issue 13 (review r1 M10): a detached HEAD (a checkout of an older commit): no commit on no
/// branch, a warning, exit 0, the snapshot written and nothing staged.
#[test]
fn a_detached_head_is_not_committed_to() {
    let exp = repo();
    let r = exp.path();
    git(r, &["commit", "-q", "--allow-empty", "-m", "two"]);
    git(r, &["checkout", "-q", "HEAD~1"]);
    let head = git(r, &["rev-parse", "HEAD"]);
    let out = snapshot(&exp, "snaps", &[]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr().contains("HEAD is detached"),
        "{}",
        out.stderr()
    );
    assert_eq!(git(r, &["rev-parse", "HEAD"]), head);
    assert_eq!(git(r, &["diff", "--cached", "--name-only"]), "");
    assert!(std::fs::read_dir(r.join("snaps")).unwrap().count() > 0);
}

/// Issue 13 (review r1 M10, M1): a merge with a conflict under way: the snapshot stays out of
/// the user's merge commit (not committed, not staged).
#[test]
fn a_merge_under_way_is_left_alone() {
    let exp = repo();
    let r = exp.path();
    git(r, &["checkout", "-q", "-b", "side"]);
    exp.write("a.txt", "side\n");
    git(r, &["commit", "-q", "-am", "side"]);
    git(r, &["checkout", "-q", "main"]);
    exp.write("a.txt", "main\n");
    git(r, &["commit", "-q", "-am", "main"]);
    let merge = Command::new("git")
        .arg("-C")
        .arg(r)
        .args(["merge", "-q", "side"])
        .output()
        .unwrap();
    assert!(!merge.status.success(), "a conflict was expected");
    let out = snapshot(&exp, "snaps", &[]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr().contains("a merge is under way"),
        "{}",
        out.stderr()
    );
    assert_eq!(git(r, &["diff", "--cached", "--name-only"]), "a.txt\n");
}

/// Issue 13 (review r1 H1): SIGTERM (systemd's stop, `timeout`) or Ctrl+C while git commits
/// (a slow pre-commit hook that still prints): the commit is let finish, then labtrail ends by
/// the signal; the repository is not locked, nothing of ours is left staged.
#[test]
fn a_stop_signal_during_the_commit_lets_git_finish() {
    use std::os::unix::process::CommandExt;
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let exp = repo();
        let r = exp.path();
        let marker = r.join("hook-started");
        hook(
            &exp,
            &format!(
                "#!/bin/sh\ntouch '{}'\nsleep 2\necho hook done >&2\n",
                marker.display()
            ),
        );
        let mut c = exp.cmd(&["snapshot", "--dir", "snaps", "--commit"]);
        c.env(NO_SQUEUE.0, NO_SQUEUE.1).process_group(0);
        c.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let child = c.spawn().unwrap();
        common::wait_until("the hook runs", std::time::Duration::from_secs(60), || {
            marker.exists()
        });
        // What a terminal's Ctrl+C or a service manager does: the signal to labtrail's group.
        unsafe { libc::kill(-(child.id() as i32), sig) };
        let out = child.wait_with_output().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(out.status.signal(), Some(sig), "{out:?}");
        assert!(!r.join(".git/index.lock").exists());
        assert!(!r.join("snaps/.snapshot.lock").exists());
        assert_eq!(git(r, &["diff", "--cached", "--name-only"]), "");
        let committed = git(r, &["show", "--name-only", "--format=", "HEAD"]);
        assert!(committed.contains("snaps/snapshot_"), "{committed}");
    }
}
