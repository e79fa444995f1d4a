//! Issue 12 (review): the run's own files never count as the experiment's code, and a git that
//! hangs or a capture cut short leaves nothing behind: no process, no temporary folder; commit
//! and branch are recorded even when the working state takes too long.

mod common;

use common::Exp;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@t"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The experiment folder as a repository with everything committed; `HEAD`'s commit.
fn committed(exp: &Exp) -> String {
    git(exp.path(), &["init", "-q", "-b", "main"]);
    git(exp.path(), &["add", "-A"]);
    git(exp.path(), &["commit", "-qm", "experiment"]);
    git(exp.path(), &["rev-parse", "HEAD"])
}

/// The last (sealed) `provenance` record of `run`.
fn sealed_of(exp: &Exp, run: &str) -> Value {
    let all = exp.column::<String>(&format!(
        "SELECT json FROM records WHERE kind = 'provenance' AND run_id = '{run}' ORDER BY id"
    ));
    let last = all.last().unwrap_or_else(|| panic!("no provenance of {run}"));
    serde_json::from_str(last).unwrap()
}

/// Two tasks, each waiting (60 s at most) until its run's capture is sealed.
const TWO_TASKS: &str = r#"[experiment]
name = "cap"
command = ": {x}; for i in $(seq 600); do sqlite3 \"$LABTRAIL_STORE/labtrail.db\" \"SELECT 1 FROM records WHERE kind = 'capture_cost' AND run_id = '$LABTRAIL_RUN_ID'\" | grep -q 1 && exit 0; sleep 0.1; done; exit 1"
[params]
x = [1, 2]
"#;

/// Issue 12 (review): a committed, clean repository with the store in its default place (a
/// `.labtrail/` folder next to the experiment file, not ignored) is clean in both runs: the
/// database, its journal and the tasks' logs and results are not in the patch, and the two
/// runs' code records are equal.
#[test]
fn the_store_folder_is_never_part_of_the_working_state() {
    let exp = Exp::new(TWO_TASKS);
    let commit = committed(&exp);
    exp.run_ok(&["run", "exp.toml", "--id", "first"]);
    exp.run_ok(&["run", "exp.toml", "--id", "second"]);
    assert!(
        !git(exp.path(), &["status", "--porcelain"]).is_empty(),
        "the store is an untracked folder for git"
    );
    let first = sealed_of(&exp, "first");
    let second = sealed_of(&exp, "second");
    let code = &first["code"]["value"];
    assert_eq!(code["commit"], commit.as_str(), "{first}");
    assert_eq!(code["dirty"], false, "{code}");
    assert_eq!(code["dirty_files"], serde_json::json!([]), "{code}");
    assert_eq!(code["patch"]["blob"], Value::Null, "{code}");
    assert_eq!(code["patch"]["bytes"], 0, "{code}");
    assert_eq!(first["code"], second["code"], "two runs of one clean commit");
    let blobs = exp.column::<i64>("SELECT count(*) FROM blobs");
    assert_eq!(blobs, [0], "no patch stored");
}
