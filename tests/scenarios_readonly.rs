//! Issue 10, "Readable where it cannot be written": reading commands on a read-only mount, in
//! another user's folder, on an older schema; busy, read-only and unopenable stores are
//! reported as what they are, never as damage.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn finished_exp() -> Exp {
    let exp = Exp::new(
        "[experiment]\nname = \"r\"\ncommand = \"echo '{\\\"x\\\": {x}}' > $LABTRAIL_RESULT; echo out {x}\"\n[params]\nx = [1, 2, 3, 4, 5]\n",
    );
    exp.run_ok(&["run", "exp.toml", "-q", "--no-progress"]);
    exp
}

/// Every reading command, as `labtrail ARGS --store STORE`.
const READS: &[&[&str]] = &[
    &["status"],
    &["list"],
    &["tasks"],
    &["results"],
    &["logs", "x=3"],
    &["events"],
    &["check"],
    &["status", "--explain"],
];

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Files in the store folder whose names say "damaged".
fn damaged_copies(store: &Path) -> Vec<String> {
    std::fs::read_dir(store)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.contains("damaged"))
        .collect()
}

/// Runs `bin ARGS --store STORE` in `cwd`, optionally as user nobody (65534).
fn labtrail_at(bin: &Path, cwd: &Path, store: &Path, args: &[&str], nobody: bool) -> Out {
    let mut c = match nobody {
        true => {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(bin);
            c
        }
        false => Command::new(bin),
    };
    c.current_dir(cwd)
        .args(args)
        .arg("--store")
        .arg(store)
        .env_remove("LABTRAIL_STORE")
        .env("HOME", "/")
        .stdin(std::process::Stdio::null());
    Out(c.output().expect("run labtrail"))
}

fn assert_reads_work(bin: &Path, cwd: &Path, store: &Path, nobody: bool, what: &str) {
    for args in READS {
        let out = labtrail_at(bin, cwd, store, args, nobody);
        assert_eq!(
            out.code(),
            0,
            "{what}: `labtrail {args:?}` works: {}{}",
            out.stdout(),
            out.stderr()
        );
        assert!(
            !out.stderr().contains("damaged"),
            "{what}: {}",
            out.stderr()
        );
    }
    let status = labtrail_at(bin, cwd, store, &["status"], nobody);
    assert!(
        status.stdout().contains("5 done"),
        "{what}: {}",
        status.stdout()
    );
}

/// What a command that writes says where it cannot: no damage, no `--repair`.
fn assert_write_refused(out: &Out, what: &str) {
    assert_eq!(out.code(), 3, "{what}: {}", out.stderr());
    let err = out.stderr();
    assert!(
        !err.contains("damaged") && !err.contains("--repair"),
        "{what}: {err}"
    );
    assert!(err.contains("cannot be written here"), "{what}: {err}");
}

/// Kills a runner (by pid) and the tasks of a store when dropped: a failed assertion leaves no
/// sleeping task behind.
struct Cleanup(u32, PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for pid in std::iter::once(self.0).chain(processes_of_store(&self.1)) {
            // SAFETY: kill(2) on our runner child and its tasks; a gone pid is ignored.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    }
}

/// A read-only bind mount of `dir` at `at`, undone on drop.
struct RoMount(PathBuf);

impl RoMount {
    fn new(dir: &Path, at: &Path) -> Result<RoMount, String> {
        std::fs::create_dir_all(at).unwrap();
        let run = |args: &[&str]| {
            let out = Command::new("mount")
                .args(args)
                .output()
                .map_err(|e| e.to_string())?;
            match out.status.success() {
                true => Ok(()),
                false => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
            }
        };
        let (d, a) = (dir.to_str().unwrap(), at.to_str().unwrap());
        run(&["--bind", d, a])?;
        let mount = RoMount(at.to_path_buf());
        run(&["-o", "remount,ro,bind", a])?;
        Ok(mount)
    }
}

impl Drop for RoMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Issue 10: every reading command works on a store on a read-only mount, after a clean stop
/// (no `-wal`, no `-shm`) and after a SIGKILL (both left), and `run` says it cannot write.
#[test]
fn reads_work_on_a_read_only_mount() {
    if !is_root() {
        eprintln!("skipped: mounting a read-only bind mount needs root");
        return;
    }
    let exp = finished_exp();
    let outside = tempfile::tempdir().unwrap();
    let ro = outside.path().join("ro");
    let mount = match RoMount::new(exp.path(), &ro) {
        Ok(m) => m,
        Err(why) => {
            eprintln!("skipped: cannot make a read-only bind mount here: {why}");
            return;
        }
    };
    let bin = Path::new(env!("CARGO_BIN_EXE_labtrail"));
    let store = ro.join(".labtrail");
    assert!(!store.join("labtrail.db-wal").exists());
    assert_reads_work(bin, &ro, &store, false, "read-only mount, clean stop");
    let run = labtrail_at(bin, &ro, &store, &["run", "exp.toml"], false);
    assert_write_refused(&run, "run on a read-only mount");
    drop(mount);

    // A runner SIGKILLed mid-run leaves its -wal and -shm.
    let exp = Exp::new(
        "[experiment]\nname = \"k\"\ncommand = \"echo {x} >> ledger.txt; [ {x} -lt 5 ] || sleep 600\"\n[params]\nx = [1, 2, 3, 4, 5]\n[run]\nworkers = 5\n",
    );
    let child = exp.spawn(&["run", "exp.toml", "-q", "--no-progress"]);
    let _cleanup = Cleanup(child.id(), exp.file(".labtrail"));
    wait_until("the tasks", Duration::from_secs(60), || {
        exp.ledger("ledger.txt").len() >= 5
    });
    wait_until("four done", Duration::from_secs(60), || {
        done_in_db(&exp.file(".labtrail")) >= 4
    });
    signal(&child, libc::SIGKILL);
    finish(child);
    for pid in processes_of_store(&exp.file(".labtrail")) {
        // SAFETY: kill(2) on the sleeping task the killed runner left.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    }
    assert!(exp.file(".labtrail/labtrail.db-wal").exists());
    let before = std::fs::read(exp.file(".labtrail/labtrail.db")).unwrap();
    let mount = RoMount::new(exp.path(), &ro).expect("mounted once already");
    for args in READS.iter().filter(|a| a[0] != "logs") {
        let out = labtrail_at(bin, &ro, &store, args, false);
        assert_eq!(
            out.code(),
            0,
            "killed, read-only: {args:?}: {}",
            out.stderr()
        );
    }
    let status = labtrail_at(bin, &ro, &store, &["status"], false);
    assert!(status.stdout().contains("4/5 done"), "{}", status.stdout());
    drop(mount);
    assert!(std::fs::read(exp.file(".labtrail/labtrail.db")).unwrap() == before);
}

/// Issue 10: a colleague reads a store made by someone else (folders 755, files 644): every
/// reading command works, `run` says it cannot write, nothing is called damaged.
#[test]
fn reads_work_in_another_users_store() {
    if !is_root() {
        eprintln!("skipped: running as another user (setpriv) needs root");
        return;
    }
    let exp = finished_exp();
    // The binary where user nobody can run it, the experiment folder readable by all.
    let bin = exp.file("labtrail-bin");
    std::fs::copy(env!("CARGO_BIN_EXE_labtrail"), &bin).unwrap();
    let chmod = |mode: &str, p: &Path| {
        assert!(Command::new("chmod")
            .args(["-R", mode])
            .arg(p)
            .status()
            .unwrap()
            .success());
    };
    chmod("a+rX,go-w", exp.path());
    let store = exp.file(".labtrail");
    let before = std::fs::read(store.join("labtrail.db")).unwrap();
    assert_reads_work(&bin, exp.path(), &store, true, "another user's store");
    let run = labtrail_at(&bin, exp.path(), &store, &["run", "exp.toml"], true);
    assert_eq!(run.code(), 3, "{}", run.stderr());
    assert!(!run.stderr().contains("--repair"), "{}", run.stderr());
    assert!(damaged_copies(&store).is_empty());
    assert!(std::fs::read(store.join("labtrail.db")).unwrap() == before);

    // A database the colleague may not read at all: cannot open, not damaged.
    chmod("go-r", &store.join("labtrail.db"));
    let out = labtrail_at(&bin, exp.path(), &store, &["status"], true);
    assert_eq!(out.code(), 3, "{}", out.stderr());
    assert!(
        out.stderr().contains("cannot open the store database"),
        "{}",
        out.stderr()
    );
    assert!(!out.stderr().contains("--repair"), "{}", out.stderr());
    assert!(damaged_copies(&store).is_empty());
}

/// Issue 10: a store another process keeps locked past the busy timeout is busy, not damaged.
/// (`LABTRAIL_TEST_BUSY_TIMEOUT_MS` shortens the 10 s wait, for tests only.)
#[test]
fn a_locked_store_is_busy_not_damaged() {
    let exp = finished_exp();
    let db = exp.file(".labtrail/labtrail.db");
    let holder = rusqlite::Connection::open(&db).unwrap();
    holder
        .pragma_update(None, "locking_mode", "EXCLUSIVE")
        .unwrap();
    holder
        .execute_batch("BEGIN EXCLUSIVE; UPDATE runs SET updated_at = updated_at;")
        .unwrap();
    for args in [&["status"][..], &["list"], &["check"], &["run", "exp.toml"]] {
        let out = exp
            .cmd(args)
            .env("LABTRAIL_TEST_BUSY_TIMEOUT_MS", "200")
            .output()
            .unwrap();
        let out = Out(out);
        assert_eq!(out.code(), 3, "{args:?}: {}", out.stderr());
        let err = out.stderr();
        assert!(err.contains("is busy"), "{args:?}: {err}");
        assert!(
            !err.contains("damaged") && !err.contains("--repair"),
            "{args:?}: {err}"
        );
    }
    holder.execute_batch("COMMIT").unwrap();
    drop(holder);
    assert!(damaged_copies(&exp.file(".labtrail")).is_empty());
    exp.run_ok(&["status"]);
}

/// Issue 10: reading commands read a store of an older schema without changing the file.
#[test]
fn an_older_schema_is_read_without_writing() {
    let exp = finished_exp();
    let db = exp.file(".labtrail/labtrail.db");
    {
        // Back to version 5: what labtrail 0.3 left (no key scheme, no input digests, no
        // submissions, none of schema 9's attempt columns and partial index, nor schema 10's
        // task counts and open-attempts index).
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch(
            "DROP TABLE param_summaries; DROP INDEX attempts_open; DROP TRIGGER task_counts_insert; DROP TRIGGER task_counts_delete; DROP TRIGGER task_counts_update; DROP TABLE task_counts; ALTER TABLE attempts DROP COLUMN started_event; ALTER TABLE attempts DROP COLUMN finished_event; DROP INDEX tasks_not_done; CREATE INDEX tasks_by_state ON tasks(run_id, in_plan, state); DROP TABLE data_digests; DROP TABLE blobs; DROP TABLE submissions; ALTER TABLE runs DROP COLUMN key_scheme; DROP TABLE input_digests; ALTER TABLE attempts DROP COLUMN cancelling; PRAGMA user_version = 5; PRAGMA journal_mode = DELETE;",
        )
        .unwrap();
    }
    let before = std::fs::read(&db).unwrap();
    for args in READS {
        let out = exp.run(args);
        assert_eq!(out.code(), 0, "{args:?}: {}", out.stderr());
    }
    assert!(exp.run(&["status"]).stdout().contains("5 done"));
    assert!(
        std::fs::read(&db).unwrap() == before,
        "the file is not changed"
    );
    exp.run_ok(&["run", "exp.toml", "-q"]);
    let version: Vec<u32> = exp.column("SELECT user_version FROM pragma_user_version");
    assert_eq!(version, [labtrail::store::schema::CURRENT_VERSION]);
}

/// Issue 10: a store too large for quick_check on every open is still found truncated on open
/// (its file is shorter than its header says), and its damage is not read as a new store.
#[test]
fn a_truncated_large_store_is_found_on_open() {
    let exp = finished_exp();
    let db = exp.file(".labtrail/labtrail.db");
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 59999)
             INSERT INTO events (run_id, task_key, at, kind, detail)
             SELECT (SELECT id FROM runs), NULL, '2026-01-01T00:00:00.000Z', 'note',
                    printf('%.400c', 'x') FROM n;
             PRAGMA wal_checkpoint(TRUNCATE);",
        )
        .unwrap();
    }
    let len = std::fs::metadata(&db).unwrap().len();
    assert!(
        len > 20 << 20,
        "more than quick_check's size on open ({len})"
    );
    std::fs::OpenOptions::new()
        .write(true)
        .open(&db)
        .unwrap()
        .set_len(len * 3 / 4)
        .unwrap();
    for args in [&["status"][..], &["run", "exp.toml"]] {
        let out = exp.run(args);
        assert_eq!(out.code(), 3, "{args:?}: {}", out.stderr());
        assert!(out.stderr().contains("is damaged"), "{}", out.stderr());
    }
    assert!(!damaged_copies(&exp.file(".labtrail")).is_empty());
}

/// Issue 10: `run --dry-run` and `status --explain` write nothing, not even the digests of the
/// input files they had to read.
#[test]
fn a_dry_run_remembers_no_input_digests() {
    let exp = Exp::new(
        "[experiment]\nname = \"d\"\ncommand = \"echo {x}\"\ninputs = [\"data/*.csv\"]\n[params]\nx = [1, 2]\n",
    );
    std::fs::create_dir(exp.file("data")).unwrap();
    exp.write("data/a.csv", "1\n");
    exp.run_ok(&["run", "exp.toml", "-q"]);
    exp.write("data/b.csv", "2\n");
    // Settled: a file changed a moment ago is never remembered anyway.
    let hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    let b = std::fs::File::options()
        .write(true)
        .open(exp.file("data/b.csv"))
        .unwrap();
    b.set_modified(hour_ago).unwrap();
    let db = exp.file(".labtrail/labtrail.db");
    let before = std::fs::read(&db).unwrap();
    exp.run_ok(&["run", "exp.toml", "--dry-run"]);
    exp.run_ok(&["status", "--explain", "exp.toml"]);
    let remembered: Vec<String> = exp.column("SELECT path FROM input_digests");
    assert!(
        !remembered.iter().any(|p| p.ends_with("b.csv")),
        "{remembered:?}"
    );
    assert!(
        std::fs::read(&db).unwrap() == before,
        "the database is not changed"
    );
}
