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

/// A `provenance` record as the capture writes it, made by hand here (this test's name says
/// so): the code lane's git capture is not on this branch. Clean working state, one redacted
/// variable, one to export, and `PATH`, which the script must not set.
fn hand_written_provenance(root: &Path, commit: &str) -> String {
    serde_json::json!({
        "captured_at": "2026-11-30T00:00:00.000Z",
        "partial": [],
        "code": {"value": {
            "root": root.display().to_string(), "commit": commit, "branch": "main",
            "describe": null, "upstream": null, "remote_url": null, "on_remote": null,
            "dirty": false, "dirty_files": [], "tree": "",
            "patch": {"blob": null, "bytes": 0, "checksum": "", "diffstat": [], "omitted": [], "over_cap": false}
        }},
        "host": {"na": "not probed in this test"},
        "python": {"na": "not probed in this test"},
        "packages": {"na": "not probed in this test"},
        "gpus": {"na": "no NVIDIA driver"},
        "env": {"vars": {"HF_TOKEN": "<redacted>", "OMP_NUM_THREADS": "3", "PATH": "/elsewhere/bin"}, "allowlist": ["OMP_*"]},
        "data": [],
        "redactions": [{"place": "env", "what": "HF_TOKEN"}]
    })
    .to_string()
}

fn head(dir: &Path) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["rev-parse", "HEAD"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Issue 12: with a recorded commit (provenance written by hand), the repro script checks out
/// that commit in a fresh clone whose HEAD has moved on, sets the captured environment but not
/// the redacted names nor `PATH`, and `labtrail run` of the experiment file by its path in the
/// repository makes the same tasks.
#[test]
fn the_repro_script_checks_out_the_recorded_commit_with_hand_written_provenance() {
    let exp = Exp::new("");
    std::fs::create_dir(exp.file("sub")).unwrap();
    let toml = "[experiment]\nname = \"r\"\ncommand = \"echo $OMP_NUM_THREADS > $LABTRAIL_TASK_DIR/omp.txt\"\n[params]\nx = [1, 2]\n";
    exp.write("sub/exp.toml", toml);
    exp.write(".gitignore", ".labtrail/\n");
    git(exp.path(), &["init", "-q"]);
    git(exp.path(), &["add", "."]);
    git(exp.path(), &["commit", "-qm", "exp"]);
    let commit = head(exp.path());
    exp.run_ok(&["run", "sub/exp.toml", "--store", ".labtrail"]);
    let root = std::fs::canonicalize(exp.path()).unwrap();
    let db = rusqlite::Connection::open(exp.file(".labtrail/labtrail.db")).unwrap();
    let run: String = db
        .query_row("SELECT id FROM runs", [], |r| r.get(0))
        .unwrap();
    db.execute(
        "INSERT INTO records (run_id, task_key, at, kind, json) VALUES (?1, NULL, '2026-11-30T00:00:00.000Z', 'provenance', ?2)",
        rusqlite::params![run, hand_written_provenance(&root, &commit)],
    )
    .unwrap();
    drop(db);
    // The repository moves on: the clone's HEAD has another grid.
    exp.write("sub/exp.toml", &toml.replace("[1, 2]", "[1, 2, 3]"));
    git(exp.path(), &["commit", "-qam", "more"]);

    let json = exp.run_ok(&["archive", "--format", "json"]).stdout();
    let a = labtrail::report::archive::json::parse(&json).unwrap();
    let script = &a.repro.script;
    assert!(
        script.contains(&format!("git checkout --detach {commit}\n")),
        "{script}"
    );
    assert!(script.contains("export OMP_NUM_THREADS=3\n"), "{script}");
    assert!(
        script.contains("# Redacted, set by hand: HF_TOKEN\n"),
        "{script}"
    );
    assert!(!script.contains("export PATH"), "{script}");
    assert!(script.ends_with("labtrail run sub/exp.toml\n"), "{script}");
    assert_eq!(a.repro.redacted, ["HF_TOKEN"]);
    let md = exp.run_ok(&["archive"]).stdout();
    assert!(md.contains(&format!("- git_commit: {commit}")), "{md}");
    assert!(md.contains("- gpus: n/a (no NVIDIA driver)"), "{md}");

    let scratch = tempfile::tempdir().unwrap();
    let clone = scratch.path().join("clone");
    git(
        scratch.path(),
        &["clone", "-q", &exp.path().display().to_string(), "clone"],
    );
    std::fs::write(scratch.path().join("repro.sh"), script).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_labtrail")).parent().unwrap();
    let out = Command::new("sh")
        .arg(scratch.path().join("repro.sh"))
        .current_dir(clone.join("sub"))
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .env_remove("LABTRAIL_STORE")
        .env_remove("OMP_NUM_THREADS")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "repro: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(head(&clone), commit);
    assert_eq!(keys(&clone.join("sub")), keys(exp.path()));
    assert_eq!(keys(&clone.join("sub")).len(), 2);
    let omp: Vec<String> = std::fs::read_dir(clone.join("sub/.labtrail/runs"))
        .unwrap()
        .flat_map(|r| std::fs::read_dir(r.unwrap().path().join("tasks")).unwrap())
        .map(|t| std::fs::read_to_string(t.unwrap().path().join("omp.txt")).unwrap())
        .collect();
    assert_eq!(omp, ["3\n", "3\n"], "the captured environment was set");
}

/// Issue 12: a run resumed after a new commit was made: the archive lists both invocations'
/// sessions (their commits differ) and says the code changed during the run; it showed only the
/// latest invocation's provenance.
#[test]
fn a_run_resumed_on_a_new_commit_says_the_code_changed_during_it() {
    let exp = Exp::new(
        "[experiment]\nname = \"s\"\ncommand = \"test -e go || sleep 300\"\n[params]\nx = [1]\n",
    );
    exp.write(".gitignore", ".labtrail/\ngo\n");
    git(exp.path(), &["init", "-q"]);
    git(exp.path(), &["add", "."]);
    git(exp.path(), &["commit", "-qm", "first"]);
    let runner = exp.spawn(&[
        "run",
        "exp.toml",
        "--id",
        "s",
        "--no-progress",
        "--grace",
        "5s",
    ]);
    common::wait_until("the task runs", std::time::Duration::from_secs(60), || {
        exp.column_once_made::<String>("SELECT state FROM tasks WHERE run_id = 's'") == ["running"]
    });
    common::signal(&runner, libc::SIGINT);
    common::finish(runner);
    exp.write("notes.txt", "a new commit\n");
    git(exp.path(), &["add", "."]);
    git(exp.path(), &["commit", "-qm", "second"]);
    exp.write("go", "");
    exp.run_ok(&["run", "exp.toml", "--resume", "s", "--no-progress"]);
    let json = exp
        .run_ok(&["archive", "--run", "s", "--format", "json"])
        .stdout();
    let a = labtrail::report::archive::json::parse(&json).expect("archive json");
    assert_eq!(a.sessions.len(), 2, "{:?}", a.sessions);
    assert_ne!(
        a.sessions[0].commit, a.sessions[1].commit,
        "{:?}",
        a.sessions
    );
    assert_eq!(
        a.sessions[1].commit.as_deref(),
        Some(head(exp.path()).as_str())
    );
    let md = exp.run_ok(&["archive", "--run", "s"]).stdout();
    assert!(md.contains("the code/data changed during the run"), "{md}");
}
