//! Names the commit a binary was built from, for `labtrail --version` (issue 16).
//!
//! Only `HEAD` and the ref it points to are watched (`rerun-if-changed`), so a commit reruns this
//! script and relinks, while an edit of a source file does not rerun it. A build without git or
//! outside a git checkout (a source tarball) says so in place of the commit.
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// Watches a git file, if it is there: cargo reruns a script whose watched file is missing on
/// every build.
fn watch(git_file: &str) {
    if let Some(path) = git(&["rev-parse", "--git-path", git_file]) {
        if std::path::Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // A source tarball unpacked inside another repository (a dotfiles home folder) is not that
    // repository's commit: only a checkout whose top is this package counts.
    let top = git(&["rev-parse", "--show-toplevel"]).and_then(|t| std::fs::canonicalize(t).ok());
    let here = std::fs::canonicalize(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default()).ok();
    let head = if top.is_some() && top == here {
        git(&["rev-parse", "--short=12", "HEAD"])
    } else {
        None
    };
    let commit = match head {
        Some(commit) => {
            // In a worktree HEAD is in its own git folder and the branch in the common one:
            // `--git-path` gives each file's real place.
            watch("HEAD");
            watch("packed-refs");
            if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
                watch(&branch);
            }
            format!("commit {commit}")
        }
        None => "not built from a git checkout: commit unknown".to_string(),
    };
    // Not named LABTRAIL_*: cargo also sets it in the environment of `cargo run` and `cargo test`,
    // whose tasks would see it among the task protocol's variables.
    println!("cargo:rustc-env=BUILT_FROM_COMMIT={commit}");
}
