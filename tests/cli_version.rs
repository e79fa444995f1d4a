//! `labtrail --version` names the version and the commit it was built from (issue 16): a user
//! on a cluster can say which build they run, and a wheel says which commit it holds.

use assert_cmd::Command;

/// The commit of this checkout, as build.rs reads it; None outside a git checkout.
fn head() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

#[test]
fn version_names_the_version_and_the_commit_built_from() {
    for flag in ["--version", "-V"] {
        let out = Command::cargo_bin("labtrail")
            .unwrap()
            .arg(flag)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        // build.rs reruns when HEAD or its branch moves, so the binary is of this very commit.
        let built = match head() {
            Some(commit) => format!("commit {commit}"),
            None => "not built from a git checkout: commit unknown".to_string(),
        };
        let want = format!("labtrail {} ({built})\n", env!("CARGO_PKG_VERSION"));
        assert_eq!(text, want);
    }
}
