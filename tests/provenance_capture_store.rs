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
    let last = all
        .last()
        .unwrap_or_else(|| panic!("no provenance of {run}"));
    serde_json::from_str(last).unwrap()
}

/// One task that ends at once.
const SHORT: &str = "[experiment]\nname = \"short\"\ncommand = \"true {x}\"\n[params]\nx = [1]\n";

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
    assert_eq!(
        first["code"], second["code"],
        "two runs of one clean commit"
    );
    let blobs = exp.column::<i64>("SELECT count(*) FROM blobs");
    assert_eq!(blobs, [0], "no patch stored");
}

/// Processes whose environment carries `marker` (a fake git's), zombies left out.
fn marked(marker: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map_or(true, |s| s.contains(") Z "));
            !zombie
                && std::fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == marker.as_bytes()))
        })
        .collect()
}

/// A fake `git` (a fault no real git gives on demand: a `git add` that hangs, as on a stalled
/// network filesystem) in its own folder: every command but `add` goes to the real git; `add`
/// runs `hang` (a shell command) with `marker` in its environment. The folder to put first on
/// `PATH`.
fn fake_hanging_git(marker: &str, hang: &str) -> tempfile::TempDir {
    let real = Command::new("sh")
        .args(["-c", "command -v git"])
        .output()
        .unwrap();
    let real = String::from_utf8(real.stdout).unwrap();
    let bin = tempfile::tempdir().unwrap();
    let script = format!(
        "#!/bin/sh\ncase \" $* \" in *\" add \"*) export {marker}; {hang};; esac\nexec {} \"$@\"\n",
        real.trim()
    );
    let path = bin.path().join("git");
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

fn path_with(bin: &Path) -> std::ffi::OsString {
    let mut path = bin.as_os_str().to_os_string();
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap());
    path
}

/// The names in the store's `tmp/` folder (none when it does not exist).
fn scratch_folders(exp: &Exp) -> Vec<String> {
    std::fs::read_dir(exp.path().join(".labtrail/tmp"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Issue 12 (review): a `git add` that hangs (with a child of its own) past the end of a
/// short run: once `labtrail run` has returned, no process of the fake git is left and no
/// temporary folder either; the record says the code probe did not finish.
#[test]
fn a_hung_git_leaves_no_process_and_no_folder() {
    let marker = format!("LABTRAIL_FAKE_GIT_MARKER={}", std::process::id());
    let bin = fake_hanging_git(&marker, "sleep 300 & wait; exit 1");
    let exp = Exp::new(SHORT);
    let commit = committed(&exp);
    let child = exp
        .cmd(&["run", "exp.toml", "--id", "short"])
        .env("PATH", path_with(bin.path()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = common::finish(child);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let p = sealed_of(&exp, "short");
    let code = &p["code"]["value"];
    assert_eq!(code["commit"], commit.as_str(), "{p}");
    assert_eq!(
        code["patch"]["missing"], "working state not captured: the run ended first",
        "the git add hung: {code}"
    );
    common::wait_until(
        "the fake git's processes to end",
        std::time::Duration::from_secs(20),
        || marked(&marker).is_empty(),
    );
    assert_eq!(scratch_folders(&exp), Vec::<String>::new());
    let prefix = format!("labtrail-git-{pid}-");
    let in_tmp: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .collect();
    assert!(
        in_tmp.is_empty(),
        "left in the temporary folder: {in_tmp:?}"
    );
}

/// Issue 12 (review): labtrail killed (SIGKILL) while `git add` runs: the git command dies with
/// it, and the temporary folder it leaves in the store is removed by the next run.
#[test]
fn a_killed_run_leaves_no_git_running_and_the_next_run_removes_its_folder() {
    let marker = format!("LABTRAIL_FAKE_GIT_MARKER=killed{}", std::process::id());
    let bin = fake_hanging_git(&marker, "exec sleep 300");
    let exp = Exp::new("");
    let hold = exp.path().join("hold");
    exp.write(
        "exp.toml",
        &format!(
            "[experiment]\nname = \"killed\"\ncommand = \": {{x}}; while [ -e '{}' ]; do sleep 0.1; done\"\n[params]\nx = [1]\n",
            hold.display()
        ),
    );
    committed(&exp);
    exp.write("hold", "");
    let child = exp
        .cmd(&["run", "exp.toml"])
        .env("PATH", path_with(bin.path()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    common::wait_until(
        "the fake git add to hang",
        std::time::Duration::from_secs(60),
        || !marked(&marker).is_empty(),
    );
    let left = scratch_folders(&exp);
    assert_eq!(left.len(), 1, "the temporary folder in the store: {left:?}");
    common::signal(&child, libc::SIGKILL);
    common::finish(child);
    common::wait_until(
        "the fake git to die with labtrail",
        std::time::Duration::from_secs(20),
        || marked(&marker).is_empty(),
    );
    assert_eq!(scratch_folders(&exp), left, "left by the killed run");
    std::fs::remove_file(&hold).unwrap();
    exp.run_ok(&["run", "exp.toml"]);
    assert_eq!(scratch_folders(&exp), Vec::<String>::new());
}

/// Issue 12 (review): a work tree with 20,000 untracked files takes git seconds to stage, longer
/// than a run whose task ends at once: the archive still gives the commit (and says why the
/// working state is unknown), not `n/a`.
#[test]
fn a_short_run_in_a_large_work_tree_records_the_commit() {
    let exp = Exp::new(SHORT);
    let commit = committed(&exp);
    for folder in 0..100 {
        let dir = exp.path().join(format!("out/{folder}"));
        std::fs::create_dir_all(&dir).unwrap();
        for file in 0..200 {
            std::fs::write(
                dir.join(format!("{file}.txt")),
                format!("{folder} {file}\n"),
            )
            .unwrap();
        }
    }
    exp.run_ok(&["run", "exp.toml", "--id", "short"]);
    let p = sealed_of(&exp, "short");
    assert_eq!(
        p["code"]["value"]["commit"],
        commit.as_str(),
        "{}",
        p["code"]
    );
    let md = exp.run_ok(&["archive"]).stdout();
    let line = md
        .lines()
        .find(|l| l.contains("git_commit:"))
        .unwrap_or_else(|| panic!("no git_commit in {md}"));
    assert!(line.contains(&commit), "{line}");
}
