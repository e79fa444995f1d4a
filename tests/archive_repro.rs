//! Issue 12: the archive's repro script, run in a fresh clone of the experiment's repository,
//! checks out the recorded commit, applies the recorded patch of the dirty working state and
//! runs the experiment again: the new run has the same task keys as the archived one.

mod common;

use common::Exp;
use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn keys(dir: &Path) -> Vec<String> {
    let db = rusqlite::Connection::open(dir.join(".labtrail/labtrail.db")).expect("store");
    let mut st = db
        .prepare("SELECT key FROM tasks WHERE in_plan = 1 ORDER BY key")
        .unwrap();
    let rows = st.query_map([], |r| r.get(0)).unwrap();
    rows.map(|r| r.unwrap()).collect()
}

/// Issue 12: a dirty repository (a changed input, a new untracked input), run and archived;
/// the repro script in a fresh clone rebuilds the same tasks.
#[test]
#[ignore = "needs the code lane's git capture (lead: un-ignore at merge)"]
fn the_repro_script_rebuilds_the_same_tasks_in_a_fresh_clone() {
    let exp = Exp::new(
        "[experiment]\nname = \"r\"\ncommand = \"cat data.txt extra.txt\"\ninputs = [\"data.txt\", \"extra.txt\"]\n[params]\nx = [1, 2]\n",
    );
    exp.write("data.txt", "committed\n");
    exp.write("extra.txt", "");
    exp.write(".gitignore", ".labtrail/\n*.json\n");
    git(exp.path(), &["init", "-q"]);
    git(exp.path(), &["add", "."]);
    git(exp.path(), &["commit", "-qm", "exp"]);
    // Dirty: a changed tracked input and a deleted-then-recreated untracked one.
    exp.write("data.txt", "changed, not committed\n");
    git(exp.path(), &["rm", "-q", "--cached", "extra.txt"]);
    exp.write("extra.txt", "new, untracked\n");
    exp.run_ok(&["run", "exp.toml"]);
    exp.run_ok(&["archive", "--format", "json", "-o", "a.json"]);
    let a = labtrail::report::archive::json::parse(
        &std::fs::read_to_string(exp.file("a.json")).unwrap(),
    )
    .unwrap();
    assert!(a.repro.script.contains("git apply"), "{}", a.repro.script);

    let scratch = tempfile::tempdir().unwrap();
    let clone = scratch.path().join("clone");
    git(
        scratch.path(),
        &["clone", "-q", &exp.path().display().to_string(), "clone"],
    );
    std::fs::write(scratch.path().join("repro.sh"), &a.repro.script).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_labtrail")).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = Command::new("sh")
        .arg(scratch.path().join("repro.sh"))
        .current_dir(&clone)
        .env("PATH", path)
        .env_remove("LABTRAIL_STORE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "repro: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(clone.join("data.txt")).unwrap(),
        "changed, not committed\n"
    );
    assert_eq!(keys(&clone), keys(exp.path()));
    assert_eq!(keys(&clone).len(), 2);
}
