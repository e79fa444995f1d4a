//! Issue 10: a store on a shared filesystem. What can be tested on one machine: the journal mode
//! chosen when detection is forced to "network" (`LABTRAIL_STORE_FS`), a runner and many readers
//! at once in that mode, lock errors injected with a test-only fake (`LABTRAIL_FAKE_LOCK_ERRNO`,
//! debug builds), and a lock file left by a process on another host. Real NFS, Lustre and two
//! hosts are not here: docs/store-filesystems.md says what was not tested.

mod common;
use common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

fn exp_of(n: usize) -> Exp {
    let values: Vec<String> = (1..=n).map(|i| i.to_string()).collect();
    Exp::new(&format!(
        r#"
[experiment]
name = "fs"
command = "echo {{x}} >> ledger.txt"
[params]
x = [{}]
"#,
        values.join(", ")
    ))
}

/// `labtrail ARGS` with `env` set, to completion.
fn run_env(exp: &Exp, env: &[(&str, &str)], args: &[&str]) -> Out {
    let mut cmd: Command = exp.cmd(args);
    cmd.env_remove("LABTRAIL_STORE_FS")
        .env_remove("LABTRAIL_FAKE_LOCK_ERRNO");
    for (k, v) in env {
        cmd.env(k, v);
    }
    Out(cmd.stdin(Stdio::null()).output().expect("run labtrail"))
}

/// The journal mode written in the database header: 1 rollback journal, 2 WAL (bytes 18-19).
fn header_mode(exp: &Exp) -> u8 {
    let bytes = std::fs::read(exp.file(".labtrail/labtrail.db")).unwrap();
    assert_eq!(bytes[18], bytes[19], "read and write versions agree");
    bytes[18]
}

const ROLLBACK: u8 = 1;
const WAL: u8 = 2;

/// Issue 10: on a network filesystem the store never uses WAL, whose shared-memory index needs
/// every process on one host: a new store is created with a rollback journal, and no `-wal` or
/// `-shm` file is left.
#[test]
fn a_store_on_a_network_filesystem_uses_a_rollback_journal() {
    let exp = exp_of(3);
    let network = [("LABTRAIL_STORE_FS", "network")];
    run_env(&exp, &network, &["run", "exp.toml", "-q"]);
    assert_eq!(header_mode(&exp), ROLLBACK);
    let out = run_env(&exp, &network, &["status"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    for side in ["labtrail.db-wal", "labtrail.db-shm"] {
        assert!(!exp.file(".labtrail").join(side).exists(), "{side} exists");
    }
    assert_eq!(exp.ledger("ledger.txt").len(), 3);
}

/// Issue 10: a WAL store (made on a local disk, or by labtrail 0.4 on NFS) leaves WAL the first
/// time a command that writes opens it on a network filesystem, with every record; found
/// "local" again it stays in rollback mode (the NFS server sees its export as a local disk),
/// unless `local` is forced. (Reading commands open the store read-only and never switch it.)
#[test]
fn a_wal_store_leaves_wal_on_a_network_filesystem_for_good() {
    let exp = exp_of(4);
    let local = [("LABTRAIL_STORE_FS", "local")];
    let network = [("LABTRAIL_STORE_FS", "network")];
    let out = run_env(&exp, &local, &["run", "exp.toml", "-q"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_eq!(header_mode(&exp), WAL);

    let out = run_env(&exp, &network, &["status"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_eq!(header_mode(&exp), WAL, "a reading command changes nothing");

    let out = run_env(&exp, &network, &["run", "exp.toml", "-q"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_eq!(header_mode(&exp), ROLLBACK);
    assert!(!exp.file(".labtrail/labtrail.db-wal").exists());
    let out = run_env(&exp, &network, &["status"]);
    assert!(out.stdout().contains("4/4"), "{}", out.stdout());

    // Not forced: whatever the test folder's filesystem is, the store stays out of WAL.
    let out = run_env(&exp, &[], &["run", "exp.toml", "-q"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_eq!(header_mode(&exp), ROLLBACK);

    let out = run_env(&exp, &local, &["run", "exp.toml", "-q"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_eq!(header_mode(&exp), WAL);
}

/// Issue 10: a WAL store that another process still has open is not switched from under it (its
/// shared-memory index would go stale): the command waits a while, then says what to do, and the
/// store stays in WAL until that process is gone.
#[test]
fn a_wal_store_another_process_has_open_is_not_switched_under_it() {
    let exp = exp_of(2);
    let out = run_env(
        &exp,
        &[("LABTRAIL_STORE_FS", "local")],
        &["run", "exp.toml"],
    );
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let other = rusqlite::Connection::open(exp.file(".labtrail/labtrail.db")).unwrap();
    let n: i64 = other
        .query_row("SELECT COUNT(*) FROM tasks", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);

    let network = [("LABTRAIL_STORE_FS", "network")];
    let out = run_env(&exp, &network, &["run", "exp.toml"]);
    assert_ne!(out.code(), 0);
    assert!(
        out.stderr().contains("another process still has it open"),
        "{}",
        out.stderr()
    );
    assert!(out.stderr().contains("set by LABTRAIL_STORE_FS"));
    assert_eq!(header_mode(&exp), WAL);

    drop(other);
    let out = run_env(&exp, &network, &["run", "exp.toml"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_eq!(header_mode(&exp), ROLLBACK);
}

/// Issue 10: in the network-safe mode a runner writes while three readers run `status` and
/// `tasks` in a loop: no reader fails (busy, locked), nothing uses WAL, and the store passes
/// `check` afterwards.
#[test]
fn readers_and_a_runner_share_a_store_in_network_mode() {
    let exp = exp_of(300);
    let mut runner = exp.cmd(&["run", "exp.toml", "-j", "4", "-q"]);
    runner
        .env("LABTRAIL_STORE_FS", "network")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let runner = std::sync::Mutex::new(runner.spawn().expect("spawn the runner"));
    wait_until("a first task done", Duration::from_secs(60), || {
        done_in_db(&exp.file(".labtrail")) > 0
    });
    let running = || runner.lock().unwrap().try_wait().unwrap().is_none();
    let reads: usize = std::thread::scope(|s| {
        let readers: Vec<_> = (0..3)
            .map(|i| {
                let (exp, running) = (&exp, &running);
                s.spawn(move || {
                    let mut reads = 0;
                    while running() || reads < 3 {
                        let args: &[&str] = if (reads + i) % 2 == 0 {
                            &["status"]
                        } else {
                            &["tasks", "--json"]
                        };
                        let out = run_env(exp, &[("LABTRAIL_STORE_FS", "network")], args);
                        assert_eq!(out.code(), 0, "labtrail {args:?}: {}", out.stderr());
                        assert!(!exp.file(".labtrail/labtrail.db-wal").exists());
                        reads += 1;
                    }
                    reads
                })
            })
            .collect();
        readers.into_iter().map(|r| r.join().unwrap()).sum()
    });
    let out = finish(runner.into_inner().unwrap());
    assert_eq!(out.code(), 0, "runner: {}", out.stderr());
    assert_eq!(header_mode(&exp), ROLLBACK);
    let check = run_env(&exp, &[("LABTRAIL_STORE_FS", "network")], &["check"]);
    assert_eq!(check.code(), 0, "{}{}", check.stdout(), check.stderr());
    assert_eq!(exp.ledger("ledger.txt").len(), 300);
    eprintln!("{reads} reads while the runner wrote");
}

/// Issue 10: a filesystem that refuses locks (ENOLCK: NFSv3 without lockd; ENOSYS: Lustre
/// without `-o flock`; EACCES) is not a run "locked by PID 0 on host ?" for ever: the error names
/// the error, the filesystem and what to do, with the store error's exit code 3, not 4.
#[test]
fn a_lock_the_filesystem_refuses_is_not_a_lock_someone_holds() {
    let exp = exp_of(2);
    run_env(&exp, &[], &["run", "exp.toml", "-q"]);
    for (errno, advice) in [
        ("ENOLCK", "rpc.statd"),
        ("ENOSYS", "-o flock"),
        ("EACCES", "no permission"),
    ] {
        let out = run_env(
            &exp,
            &[("LABTRAIL_FAKE_LOCK_ERRNO", errno)],
            &["run", "exp.toml"],
        );
        let err = out.stderr();
        assert_eq!(out.code(), 3, "{errno}: {err}");
        assert!(err.contains(errno), "{err}");
        assert!(err.contains("the store is on"), "{err}");
        assert!(err.contains(advice), "{errno}: {err}");
        assert!(!err.contains("PID 0"), "{err}");
    }
}

/// Issue 10: a lock refused for a reason that can pass (ENOLCK twice) is tried again, and the run
/// goes on.
#[test]
fn a_lock_refused_for_a_moment_is_tried_again() {
    let exp = exp_of(2);
    let out = run_env(
        &exp,
        &[("LABTRAIL_FAKE_LOCK_ERRNO", "ENOLCK:2")],
        &["run", "exp.toml", "-q"],
    );
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_eq!(exp.ledger("ledger.txt").len(), 2);
}

/// Issue 10: a lock file written by a runner on another login node that did not release it
/// cleanly is not taken over (it may still run there, on locks this host does not see): exit 4,
/// naming the host and the PID, and nothing runs; `--force` takes it over and says so in the
/// run's events. A leftover of this host's own runner is still taken over without asking.
#[test]
fn a_lock_left_on_another_host_needs_force() {
    let exp = exp_of(2);
    run_env(&exp, &[], &["run", "exp.toml", "-q"]);
    exp.write(
        "exp.toml",
        &std::fs::read_to_string(exp.file("exp.toml"))
            .unwrap()
            .replace("x = [1, 2]", "x = [1, 2, 3]"),
    );
    let run = exp
        .run_dir()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let lock = exp.file(&format!(".labtrail/locks/{run}.lock"));
    std::fs::write(
        &lock,
        r#"{"pid": 4242, "host": "login2.cluster.example", "since": "2026-11-29T10:00:00.000Z"}"#,
    )
    .unwrap();

    let out = run_env(&exp, &[], &["run", "exp.toml"]);
    let err = out.stderr();
    assert_eq!(out.code(), 4, "{err}");
    assert!(err.contains("login2.cluster.example"), "{err}");
    assert!(err.contains("PID 4242"), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(exp.ledger("ledger.txt").len(), 2, "nothing ran");

    let out = run_env(&exp, &[], &["run", "exp.toml", "--force"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_eq!(exp.ledger("ledger.txt").len(), 3);
    let events = exp.run_ok(&["events"]).stdout();
    assert!(
        events.contains("lock_taken_over") && events.contains("login2.cluster.example"),
        "{events}"
    );

    // This host's own leftover (a runner killed here): taken over as before.
    let here = nix::unistd::gethostname().unwrap();
    std::fs::write(
        &lock,
        format!(
            r#"{{"pid": 4242, "host": "{}", "since": "2026-11-29T10:00:00.000Z"}}"#,
            here.to_string_lossy()
        ),
    )
    .unwrap();
    let out = run_env(&exp, &[], &["run", "exp.toml"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
}

/// Issue 10: `monitor` refuses a run whose lock a monitor on another host left (an error, or the
/// run skipped with `--all`), and takes it over with `force`.
#[test]
fn a_monitor_lock_left_on_another_host_needs_force() {
    use labtrail::app::slurm::{watch_runs, Notice};
    use labtrail::progress::Reporter;
    use labtrail::store::{Store, StoreError};
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join(".labtrail"), true).unwrap();
    store.create_run("r", "e", "e.toml", "").unwrap();
    let left =
        r#"{"pid": 77, "host": "login3.cluster.example", "since": "2026-11-29T10:00:00.000Z"}"#;
    std::fs::create_dir_all(dir.path().join(".labtrail/locks")).unwrap();
    std::fs::write(store.lock_path("r"), left).unwrap();
    let runs = ["r".to_string()];
    let reporter = |total, done| Reporter::new(false, true, total, done);

    let err = watch_runs(&mut store, &runs, false, true, false, reporter, |_| {}).unwrap_err();
    let err = err.downcast::<StoreError>().unwrap();
    assert!(
        matches!(&err, StoreError::LockedElsewhere { host, pid: 77, .. } if host == "login3.cluster.example"),
        "{err}"
    );

    let mut notices = Vec::new();
    watch_runs(&mut store, &runs, true, true, false, reporter, |n| {
        notices.push(n)
    })
    .unwrap();
    assert!(
        matches!(notices.as_slice(), [Notice::Skipped { .. }]),
        "{notices:?}"
    );

    // With force the lock is taken over (the run, made here without a spec, then fails to load:
    // past the lock).
    let mut notices = Vec::new();
    let after = watch_runs(&mut store, &runs, false, true, true, reporter, |n| {
        notices.push(n)
    });
    assert!(
        matches!(notices.first(), Some(Notice::TookOver { previous, .. }) if previous.contains("login3")),
        "{notices:?} {:?}",
        after.err()
    );
}

/// Issue 10: two runners of two runs of one store, started together in network mode (rollback
/// journal), both finish: neither fails with "database is locked" (a deferred transaction that
/// read first, then wanted to write while the other held the write lock, failed at once: SQLite
/// does not wait there, it would deadlock). Several rounds, the collision being a matter of timing.
#[test]
fn two_runners_of_one_store_in_network_mode_both_finish() {
    let exp = exp_of(200);
    let network = [("LABTRAIL_STORE_FS", "network")];
    let out = run_env(&exp, &network, &["run", "exp.toml", "-q", "--id", "first"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    for round in 0..4 {
        let runners: Vec<_> = (0..2)
            .map(|k| {
                let id = format!("r{round}-{k}");
                let mut cmd = exp.cmd(&["run", "exp.toml", "-q", "-j", "3", "--id", &id]);
                cmd.env("LABTRAIL_STORE_FS", "network")
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                cmd.spawn().expect("spawn a runner")
            })
            .collect();
        for runner in runners {
            let out = finish(runner);
            assert_eq!(out.code(), 0, "round {round}: {}", out.stderr());
        }
    }
    let check = run_env(&exp, &network, &["check"]);
    assert_eq!(check.code(), 0, "{}{}", check.stdout(), check.stderr());
    assert_eq!(exp.ledger("ledger.txt").len(), 200 * 9);
}

/// Issue 10 (review): `LABTRAIL_STORE_FS=Network` (any value but `network`/`local`) was
/// silently ignored, so a store the user said is shared could get WAL. It is refused, naming
/// the variable and the values it takes, before anything is written.
#[test]
fn an_unknown_store_fs_value_is_refused() {
    let exp = exp_of(2);
    for value in ["Network", "nfs"] {
        let out = run_env(
            &exp,
            &[("LABTRAIL_STORE_FS", value)],
            &["run", "exp.toml", "-q"],
        );
        assert_eq!(out.code(), 2, "{value}: {}", out.stderr());
        let err = out.stderr();
        assert!(
            err.contains(&format!("LABTRAIL_STORE_FS is set to `{value}`"))
                && err.contains("LABTRAIL_STORE_FS=network")
                && err.contains("LABTRAIL_STORE_FS=local"),
            "{err}"
        );
        assert!(!exp.file(".labtrail").exists(), "nothing was written");
    }
    let out = run_env(
        &exp,
        &[("LABTRAIL_STORE_FS", "network")],
        &["run", "exp.toml", "-q"],
    );
    assert_eq!(out.code(), 0, "{}", out.stderr());
}
