//! Issue 12: the code capture on real repositories: the stored patch replays to the recorded
//! tree, the user's repository is never changed, the cap, the cases without an answer.

mod git_repo;
use git_repo::*;
use labtrail::provenance::git::{capture, capture_redacting};
use labtrail::provenance::model::{Code, Probed};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);
const CAP: u64 = 5 << 20;

fn code(probed: Probed<Code>) -> Code {
    match probed {
        Probed::Value(code) => code,
        Probed::Na(why) => panic!("no code captured: {why}"),
    }
}

/// A repository with every kind of change: staged, unstaged (on top of staged), a new staged
/// file, a new untracked file, a deleted file, a binary file changed in place (same size, in the
/// same second as the index's last write), a Latin-1 file, an ignored file and an untracked file over 1 MiB.
fn dirty_repo() -> Repo {
    let repo = Repo::with(&[
        ("a.txt", b"one\n"),
        ("bin.dat", b"x\0y\x01\x02"),
        ("del.txt", b"gone soon\n"),
        ("latin1.txt", b"caf\xe9\n"),
        ("sub/keep.txt", b"kept\n"),
        (".gitignore", b"*.log\n"),
    ]);
    repo.write("a.txt", b"one\ntwo\n");
    repo.git(&["add", "a.txt"]);
    repo.write("a.txt", b"one\ntwo\nthree\n");
    repo.write("staged.txt", b"staged new\n");
    repo.git(&["add", "staged.txt"]);
    repo.write("new file.txt", b"untracked new\n");
    repo.write("sub/new.bin", &[0, 159, 146, 150, 255]);
    std::fs::remove_file(repo.file("del.txt")).unwrap();
    repo.write("latin1.txt", b"caf\xe9 cr\xe8me\n");
    repo.write("run.log", b"ignored\n");
    repo.write("big.ckpt", &vec![7u8; (1 << 20) + 1]);
    // Last, in the second of the index's last write, with the size it had: only the index's
    // time tells git to look at the content.
    repo.write("bin.dat", b"x\0z\x01\x02");
    repo
}

/// Issue 12: applying the stored patch to a clean clone at the recorded commit gives the
/// recorded tree: staged, unstaged, new, deleted and binary files, ignored ones left out, an
/// untracked file over 1 MiB omitted and listed.
#[test]
fn the_patch_replays_to_the_recorded_tree() {
    let _git = git_allowed();
    let repo = dirty_repo();
    // Later than the change to bin.dat (as when a run starts a while after an edit): git must
    // still see that change, made in the second of the commit with the size it had.
    std::thread::sleep(Duration::from_millis(1100));
    let (probed, bytes) = capture(&repo.file("sub"), CAP, LIMIT);
    let code = code(probed);
    assert_eq!(code.commit, repo.head());
    assert_eq!(code.branch.as_deref(), Some("main"));
    assert!(code.dirty);
    let changes: Vec<(&str, &str)> = code
        .dirty_files
        .iter()
        .map(|f| (f.path.as_str(), f.change.as_str()))
        .collect();
    assert_eq!(
        changes,
        [
            ("a.txt", "M"),
            ("big.ckpt", "?"),
            ("bin.dat", "M"),
            ("del.txt", "D"),
            ("latin1.txt", "M"),
            ("new file.txt", "?"),
            ("staged.txt", "A"),
            ("sub/new.bin", "?"),
        ]
    );
    assert_eq!(code.patch.omitted.len(), 1);
    assert_eq!(code.patch.omitted[0].path, "big.ckpt");
    assert_eq!(code.patch.omitted[0].why, "untracked file over 1 MiB");
    assert!(!code.patch.over_cap);
    assert!(code
        .patch
        .diffstat
        .contains(&"bin.dat | binary".to_string()));
    assert!(code.patch.diffstat.contains(&"a.txt | +2 -0".to_string()));
    let bytes = bytes.expect("a patch under the cap is returned");
    assert_eq!(bytes.len() as u64, code.patch.bytes);
    assert_eq!(blake3::hash(&bytes).to_hex().as_str(), code.patch.checksum);
    assert_eq!(code.patch.blob, None, "the caller stores it");

    let clone = tempfile::tempdir().unwrap();
    let clone = clone.path().join("clone");
    git_in(repo.path(), &["clone", "-q", ".", clone.to_str().unwrap()]);
    git_in(&clone, &["checkout", "-q", "--detach", &code.commit]);
    let patch_file = clone.parent().unwrap().join("stored.patch");
    std::fs::write(&patch_file, &bytes).unwrap();
    git_in(&clone, &["apply", patch_file.to_str().unwrap()]);
    git_in(&clone, &["add", "-A"]);
    assert_eq!(git_in(&clone, &["write-tree"]), code.tree);
    assert_eq!(
        std::fs::read(clone.join("latin1.txt")).unwrap(),
        b"caf\xe9 cr\xe8me\n"
    );
    assert!(!clone.join("run.log").exists() && !clone.join("big.ckpt").exists());
}

/// Issue 12: capture never writes the user's repository: the index keeps its bytes and its
/// modification time, no object is added, `git status` says what it said.
#[test]
fn the_users_index_and_objects_are_untouched() {
    let _git = git_allowed();
    let repo = dirty_repo();
    // Before the snapshot: `git status` itself may refresh the index.
    let status = repo.git(&["status", "--porcelain"]);
    let index = repo.file(".git/index");
    let before = (std::fs::read(&index).unwrap(), listing(&repo.file(".git")));
    let (probed, _) = capture(repo.path(), CAP, LIMIT);
    assert!(code(probed).dirty);
    let after = (std::fs::read(&index).unwrap(), listing(&repo.file(".git")));
    assert!(before.0 == after.0, "the index's bytes changed");
    assert_eq!(before.1, after.1, "files under .git changed");
    assert_eq!(repo.git(&["status", "--porcelain"]), status);
}

/// Issue 12: over the cap, the patch is not returned; its size, checksum, diffstat and the
/// files it would have held are, and capture goes on.
#[test]
fn a_patch_over_the_cap_keeps_its_summary_only() {
    let _git = git_allowed();
    let repo = Repo::with(&[("a.txt", b"one\n"), ("b.txt", b"two\n")]);
    repo.write("a.txt", "line\n".repeat(100).as_bytes());
    std::fs::remove_file(repo.file("b.txt")).unwrap();
    let (whole, whole_bytes) = capture(repo.path(), CAP, LIMIT);
    let whole = code(whole);
    let whole_bytes = whole_bytes.unwrap();
    let (probed, bytes) = capture(repo.path(), 100, LIMIT);
    let code = code(probed);
    assert!(bytes.is_none());
    let patch = &code.patch;
    assert!(patch.over_cap);
    assert_eq!(patch.blob, None);
    assert_eq!(patch.bytes, whole_bytes.len() as u64);
    assert!(patch.bytes > 100);
    assert_eq!(patch.checksum, whole.patch.checksum);
    assert_eq!(patch.diffstat, ["a.txt | +100 -1", "b.txt | +0 -1"]);
    let omitted: Vec<(&str, u64, &str)> = patch
        .omitted
        .iter()
        .map(|o| (o.path.as_str(), o.bytes, o.why.as_str()))
        .collect();
    assert_eq!(
        omitted,
        [
            ("a.txt", 500, "patch over the 100 bytes cap"),
            ("b.txt", 0, "patch over the 100 bytes cap")
        ]
    );
    assert_eq!(code.tree, whole.tree);
}

/// Issue 12: a clean repository has no patch; upstream, distance, describe and whether a remote
/// has the commit come from a real clone.
#[test]
fn a_clean_clone_knows_its_upstream_and_remote() {
    let _git = git_allowed();
    let origin = Repo::with(&[("a.txt", b"one\n")]);
    origin.git(&["tag", "v1"]);
    let holder = tempfile::tempdir().unwrap();
    let clone = holder.path().join("clone");
    let from = origin.path().to_str().unwrap();
    git_in(
        holder.path(),
        &["clone", "-q", from, clone.to_str().unwrap()],
    );
    let (probed, bytes) = capture(&clone, CAP, LIMIT);
    let clean = code(probed);
    assert!(!clean.dirty && clean.dirty_files.is_empty() && bytes.is_none());
    assert_eq!(clean.patch.bytes, 0);
    assert_eq!(clean.describe.as_deref(), Some("v1"));
    assert_eq!(clean.on_remote, Some(true));
    let up = clean.upstream.expect("an upstream");
    assert_eq!(
        (up.name.as_str(), up.ahead, up.behind),
        ("origin/main", 0, 0)
    );
    assert_eq!(clean.remote_url.as_deref(), Some(from));

    std::fs::write(clone.join("b.txt"), "local\n").unwrap();
    git_in(&clone, &["add", "b.txt"]);
    git_in(&clone, &["commit", "-q", "-m", "local"]);
    let secret = "https://me:s3cret@example.org/x.git";
    git_in(&clone, &["remote", "set-url", "origin", secret]);
    std::fs::write(
        clone.join("a.txt"),
        "one\nhf_AbCdEfGhIjKlMnOpQrStUvWxYz0123\n",
    )
    .unwrap();
    let mut found = Vec::new();
    let (probed, bytes) = capture_redacting(&clone, CAP, LIMIT, &mut found);
    let ahead = code(probed);
    assert_eq!(
        ahead.on_remote,
        Some(false),
        "the local commit is on no remote"
    );
    assert_eq!(ahead.upstream.unwrap().ahead, 1);
    assert!(ahead.describe.unwrap().ends_with("-dirty"));
    assert_eq!(
        ahead.remote_url.as_deref(),
        Some("https://example.org/x.git")
    );
    let stored = String::from_utf8(bytes.unwrap()).unwrap();
    assert!(stored.contains("+<redacted>") && !stored.contains("hf_AbC"));
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].place.as_str(), found[0].what.as_str()),
        ("patch", "Hugging Face token")
    );
}

/// Issue 12: no repository, no commit, a detached head, no time left: an answer saying why,
/// never a panic.
#[test]
fn without_an_answer_capture_says_why() {
    let _git = git_allowed();
    let plain = tempfile::tempdir().unwrap();
    assert_eq!(
        capture(plain.path(), CAP, LIMIT).0,
        Probed::na("not in a git repository")
    );
    let empty = Repo::init();
    assert_eq!(
        capture(empty.path(), CAP, LIMIT).0,
        Probed::na("no commits yet")
    );
    let repo = Repo::with(&[("a.txt", b"one\n")]);
    assert_eq!(
        capture(repo.path(), CAP, Duration::ZERO).0,
        Probed::na("git did not answer within 0.0 s")
    );
    repo.git(&["checkout", "-q", "--detach"]);
    assert_eq!(code(capture(repo.path(), CAP, LIMIT).0).branch, None);
}

/// Issue 12: without git on `PATH`, the code is `n/a (git not found)`.
#[test]
fn without_git_the_code_is_not_available() {
    let repo = Repo::with(&[("a.txt", b"one\n")]);
    let _alone = git_alone();
    let path = std::env::var_os("PATH");
    let nowhere = tempfile::tempdir().unwrap();
    std::env::set_var("PATH", nowhere.path());
    let (probed, bytes) = capture(repo.path(), CAP, LIMIT);
    match path {
        Some(p) => std::env::set_var("PATH", p),
        None => std::env::remove_var("PATH"),
    }
    assert_eq!(probed, Probed::na("git not found"));
    assert!(bytes.is_none());
}

/// The capture's time on each repository of `LABTRAIL_BENCH_REPOS` (`:`-separated; this
/// repository by default), next to a bare `git status` on the same repository, taken in turns.
/// Run by `bench/capture_git.sh`.
#[test]
#[ignore]
fn capture_time() {
    let _git = git_allowed();
    let repos = std::env::var("LABTRAIL_BENCH_REPOS")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    let rounds: usize = std::env::var("ROUNDS").map_or(15, |r| r.parse().unwrap());
    for repo in repos.split(':') {
        let dir = std::path::Path::new(repo);
        let timed = |f: &dyn Fn()| {
            let t = std::time::Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1000.0
        };
        let capture_once = || {
            let (probed, _) = capture(dir, CAP, LIMIT);
            assert!(probed.value().is_some(), "{probed:?}");
        };
        let status_once = || {
            git_in(dir, &["status", "--porcelain"]);
        };
        capture_once();
        status_once();
        let (mut cap_ms, mut status_ms) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            cap_ms.push(timed(&capture_once));
            status_ms.push(timed(&status_once));
        }
        let files = git_in(dir, &["ls-files"]).lines().count();
        let code = code(capture(dir, CAP, LIMIT).0);
        let median = |v: &mut Vec<f64>| {
            v.sort_by(|a, b| a.total_cmp(b));
            (v[v.len() / 2], v[v.len() * 9 / 10])
        };
        let ((c50, c90), (s50, s90)) = (median(&mut cap_ms), median(&mut status_ms));
        println!(
            "{repo}: {files} tracked files, {} dirty, patch {} bytes\n  capture    p50 {c50:6.1} ms  p90 {c90:6.1} ms\n  git status p50 {s50:6.1} ms  p90 {s90:6.1} ms  ({rounds} rounds each, in turns)",
            code.dirty_files.len(),
            code.patch.bytes
        );
    }
}
