//! A real git repository in a temporary folder, for the code capture's tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::RwLock;

/// Tests that run git hold this for reading; the test that takes git off `PATH` holds it for
/// writing, so that no other test's git goes missing with it.
static PATH_LOCK: RwLock<()> = RwLock::new(());

/// Held while a test runs git (see [`PATH_LOCK`]); a failed test does not poison the others.
pub fn git_allowed() -> std::sync::RwLockReadGuard<'static, ()> {
    PATH_LOCK.read().unwrap_or_else(|e| e.into_inner())
}

/// Held while a test has git off `PATH`.
pub fn git_alone() -> std::sync::RwLockWriteGuard<'static, ()> {
    PATH_LOCK.write().unwrap_or_else(|e| e.into_inner())
}

pub struct Repo {
    pub dir: tempfile::TempDir,
}

impl Repo {
    /// An empty repository (branch `main`), no commit yet.
    pub fn init() -> Repo {
        let repo = Repo {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    /// A repository whose first commit holds `files`.
    pub fn with(files: &[(&str, &[u8])]) -> Repo {
        let repo = Repo::init();
        for (path, bytes) in files {
            repo.write(path, bytes);
        }
        repo.git(&["add", "-A"]);
        repo.git(&["commit", "-q", "-m", "first"]);
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, path: &str) -> PathBuf {
        self.path().join(path)
    }

    pub fn write(&self, path: &str, bytes: &[u8]) {
        let file = self.file(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, bytes).unwrap();
    }

    /// `git ARGS` in the repository; what it printed (trimmed). Panics when git fails.
    pub fn git(&self, args: &[&str]) -> String {
        git_in(self.path(), args)
    }

    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"])
    }
}

/// `git ARGS` in `dir`, with a fixed author; what it printed (trimmed).
pub fn git_in(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.org")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.org")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Every file under `dir`, with its size and modification time (to tell that nothing changed).
pub fn listing(dir: &Path) -> Vec<(PathBuf, u64, std::time::SystemTime)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                todo.push(entry.path());
            } else {
                out.push((entry.path(), meta.len(), meta.modified().unwrap()));
            }
        }
    }
    out.sort();
    out
}
