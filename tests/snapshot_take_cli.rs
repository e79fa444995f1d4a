//! Issue 13: `labtrail snapshot` as users run it: by hand, with `--json`, from the crontab line
//! `snapshot cron` prints (run under `env -i` with cron's PATH), in a `--every` loop ended by
//! SIGTERM, killed at the worst moment, and committing next to a held `index.lock`.
//!
//! These drive the real binary, so they need the collect lane's `collect` (the cluster is kept
//! out with `LABTRAIL_SQUEUE` pointing nowhere, which the snapshot records as a `failed`
//! scheduler naming the variable: a program set by hand that is not there is a mistake, not a
//! machine without SLURM; except in the cron test, which runs what cron would).

mod common;
use common::{finish, signal, wait_until, Exp};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const NO_SQUEUE: (&str, &str) = ("LABTRAIL_SQUEUE", "/nonexistent/squeue");

fn snapshots(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("snapshot_") && n.ends_with(".json"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn snapshot(exp: &Exp, args: &[&str]) -> common::Out {
    common::Out(
        exp.cmd(&[&["snapshot", "--dir", "snaps"][..], args].concat())
            .env(NO_SQUEUE.0, NO_SQUEUE.1)
            .output()
            .unwrap(),
    )
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Issue 13: a snapshot by hand: the file written, said on stdout; again with nothing changed:
/// nothing written; a new flag: a new file, and `--json` says what was written.
#[test]
fn snapshot_by_hand_then_unchanged_then_json() {
    let exp = Exp::new("");
    exp.write("stage_0_setup_complete.flag", "");
    let out = snapshot(&exp, &[]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(out.stdout().starts_with("wrote "), "{}", out.stdout());
    let dir = exp.file("snaps");
    let first = snapshots(&dir);
    assert_eq!(first.len(), 1);
    let again = snapshot(&exp, &[]);
    assert!(again.stdout().contains("unchanged"), "{}", again.stdout());
    assert_eq!(snapshots(&dir), first);
    exp.write("stage_1_data_prep_complete.flag", "");
    let out = snapshot(&exp, &["--json"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let said: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(said["outcome"], "written");
    let file = said["file"].as_str().unwrap();
    let snap: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    assert_eq!(snap["completion_flags"].as_array().unwrap().len(), 2);
    assert_eq!(snap["scheduler"]["status"], "failed");
    let detail = snap["scheduler"]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("LABTRAIL_SQUEUE"), "{detail}");
}

/// Issue 13: killed (SIGKILL) between writing its temporary file and renaming it: no
/// `snapshot_*.json` at all; the next run removes the temporary file and writes a whole one.
#[test]
fn killed_before_the_rename_leaves_no_partial_snapshot() {
    let exp = Exp::new("");
    let (mut child, _gate) = exp.spawn_paused_at(
        "snapshot-before-rename",
        &["snapshot", "--dir", "snaps"],
        &[NO_SQUEUE],
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let dir = exp.file("snaps");
    assert!(snapshots(&dir).is_empty());
    let temps = || {
        std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(".snapshot-tmp-")
            })
            .count()
    };
    assert_eq!(temps(), 1);
    let out = snapshot(&exp, &[]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(out.stderr().contains("took over"), "{}", out.stderr());
    assert_eq!(temps(), 0);
    assert_eq!(snapshots(&dir).len(), 1);
}

/// Issue 13: `--commit` while another git holds `index.lock`: the snapshot is written, a
/// warning says why it was not committed, exit 0; the next `--commit` commits it, even when
/// nothing changed since and no new file is written.
#[test]
fn commit_with_a_held_index_lock_warns_and_exits_0() {
    let exp = Exp::new("");
    git(exp.path(), &["init", "-q"]);
    std::fs::write(exp.file(".git/index.lock"), "").unwrap();
    let out = snapshot(&exp, &["--commit"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr().contains("warning:") && out.stderr().contains("index.lock"),
        "{}",
        out.stderr()
    );
    assert_eq!(snapshots(&exp.file("snaps")).len(), 1);
    // The lock released, the next `--commit` commits that snapshot even though nothing changed
    // since (no new file to write).
    std::fs::remove_file(exp.file(".git/index.lock")).unwrap();
    let out = snapshot(&exp, &["--commit"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(out.stdout().contains("unchanged since"), "{}", out.stdout());
    assert_eq!(snapshots(&exp.file("snaps")).len(), 1);
    let committed = git(exp.path(), &["ls-files", "snaps"]);
    assert!(committed.contains("snapshot_"), "{committed}");
}

/// Issue 13: the crontab line `snapshot cron` prints, run as cron runs it (`sh -c`, `env -i`
/// with cron's PATH, from the home folder), writes and commits a snapshot and logs to the file
/// it names.
#[test]
fn the_printed_crontab_line_works_from_crons_bare_environment() {
    let exp = Exp::new("");
    git(exp.path(), &["init", "-q"]);
    let out = exp.run_ok(&[
        "snapshot", "cron", "--dir", "snaps", "--commit", "--every", "15m",
    ]);
    let text = out.stdout();
    let line = text
        .lines()
        .find(|l| l.starts_with("*/15 * * * * "))
        .unwrap_or_else(|| panic!("no crontab line in {text}"));
    let command = line.splitn(6, ' ').nth(5).unwrap();
    assert!(
        text.contains("Persistent=true") && text.contains("#SCRON"),
        "{text}"
    );
    assert!(text.contains("OnCalendar=*:0/15"), "{text}");
    // The folder removed since (`snapshot cron` made it): the line makes it again before its
    // log redirection needs it.
    std::fs::remove_dir_all(exp.file("snaps")).unwrap();
    let home = tempfile::tempdir().unwrap();
    let ran = Command::new("env")
        .args(["-i", "PATH=/usr/bin:/bin", "SHELL=/bin/sh"])
        .arg(format!("HOME={}", home.path().display()))
        .args(["sh", "-c", command])
        .current_dir(home.path())
        .output()
        .unwrap();
    let log = std::fs::read_to_string(exp.file("snaps/.snapshot-cron.log")).unwrap_or_default();
    assert!(ran.status.success(), "{command}\n{log}");
    assert_eq!(snapshots(&exp.file("snaps")).len(), 1, "{log}");
    assert!(log.contains("wrote "), "{log}");
    assert!(git(exp.path(), &["log", "-1", "--format=%s"]).starts_with("snapshot "));
}

/// Issue 13: `--every 10s` (the shortest) writes one snapshot per period while the content
/// changes (a new flag each time), and SIGTERM ends it between snapshots, exit 0, no temporary
/// file left.
#[test]
fn every_writes_several_and_stops_on_sigterm() {
    let exp = Exp::new("");
    let child = exp
        .cmd(&["snapshot", "--dir", "snaps", "--every", "10s"])
        .env(NO_SQUEUE.0, NO_SQUEUE.1)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let dir = exp.file("snaps");
    for n in 1..=3 {
        wait_until(&format!("snapshot {n}"), Duration::from_secs(60), || {
            snapshots(&dir).len() >= n
        });
        exp.write(&format!("stage_{n}_complete.flag"), "");
    }
    signal(&child, libc::SIGTERM);
    let out = finish(child);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(out.stderr().contains("stopped"), "{}", out.stderr());
    assert!(snapshots(&dir).len() >= 3);
    let leftovers = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            let n = e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .into_owned();
            n.starts_with(".snapshot-tmp-") || n == ".snapshot.lock"
        })
        .count();
    assert_eq!(leftovers, 0);
}

/// Issue 13: `snapshot cron` refuses a period cron cannot repeat, saying which ones it can.
#[test]
fn cron_refuses_a_period_cron_cannot_write() {
    let exp = Exp::new("");
    let out = exp.run(&["snapshot", "cron", "--every", "7m"]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(out.stderr().contains("divisor"), "{}", out.stderr());
}

/// Issue 13 (review r3 #1, #2, #3, r1 M5): a squeue that fails between two snapshots. The
/// failed snapshot is written and says so on stderr (exit 0), keeps the experiment whose job
/// was queued active with its queued job (`carried_forward`), and `--commit` says `scheduler
/// failed`, not `0 running`. The next snapshot judges ended jobs against the one before the
/// failure, so the job that ended meanwhile is in its `ended_jobs` with sacct's exit code.
/// Every warning of the snapshot (here a flag glob that does not parse) is printed. squeue and
/// sacct are stand-ins (scripts printing recorded answers): a controller that does not answer
/// cannot be made for a test.
#[test]
fn fake_squeue_failing_once_neither_completes_experiments_nor_loses_ended_jobs() {
    let exp = Exp::new("");
    let user = Command::new("id").arg("-un").output().unwrap().stdout;
    let user = String::from_utf8_lossy(&user).trim().to_string();
    exp.write(
        "labtrail.toml",
        "[snapshot]\n[snapshot.experiments.rev3y]\njobs = \"^rev3\"\n",
    );
    let d = exp.path().display().to_string();
    let squeue = exp.write_executable(
        "squeue",
        &format!(
            "#!/bin/sh\nif [ -f '{d}/down' ]; then echo 'squeue: error: Unable to contact slurm controller (connect failure)' >&2; exit 1; fi\ncat '{d}/queue.txt'\n"
        ),
    );
    let sacct = exp.write_executable("sacct", &format!("#!/bin/sh\ncat '{d}/acct.txt'\n"));
    let job = format!(
        "5455|5455|rev3-b-short|RUNNING|None|vm|0|2026-11-30T09:00:00|(null)|/o|/w|2026-11-30T08:59:00|1:00:00|20M|debug|0:05|{user}|\n"
    )
    .replace('|', "\x1f");
    exp.write("queue.txt", &job);
    exp.write("acct.txt", "");
    git(exp.path(), &["init", "-q"]);
    git(exp.path(), &["config", "user.name", "t"]);
    git(exp.path(), &["config", "user.email", "t@t"]);
    let take = |args: &[&str]| {
        common::Out(
            exp.cmd(&[&["snapshot", "--dir", "snaps", "--flags", "["][..], args].concat())
                .env("LABTRAIL_SQUEUE", &squeue)
                .env("LABTRAIL_SACCT", &sacct)
                .output()
                .unwrap(),
        )
    };
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(exp.file("snaps").join(name)).unwrap())
            .unwrap()
    };
    let rev3y = |snap: &serde_json::Value| {
        snap["experiments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == "rev3y")
            .cloned()
            .unwrap()
    };

    let out = take(&[]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stdout().contains("(1 running, 0 pending)"),
        "{}",
        out.stdout()
    );
    assert!(
        out.stderr()
            .contains("warning: flag pattern `[` is not a valid glob"),
        "{}",
        out.stderr()
    );
    std::thread::sleep(Duration::from_millis(1100));
    exp.write("down", "");
    let out = take(&["--commit"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr()
            .contains("warning: the scheduler did not answer")
            && out.stderr().contains("Unable to contact slurm controller"),
        "{}",
        out.stderr()
    );
    let subject = git(exp.path(), &["log", "-1", "--format=%s"]);
    assert!(subject.contains("scheduler failed"), "{subject}");
    let files = snapshots(&exp.file("snaps"));
    assert_eq!(files.len(), 2);
    let failed = read(&files[1]);
    assert_eq!(failed["scheduler"]["status"], "failed");
    let e = rev3y(&failed);
    assert_eq!(
        (&e["active"], &e["queued_jobs"]),
        (&true.into(), &1.into()),
        "{e}"
    );
    assert_eq!(e["carried_forward"], true);

    // The job ended meanwhile (FAILED, exit 5): squeue answers again.
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::remove_file(exp.file("down")).unwrap();
    exp.write("queue.txt", "");
    exp.write(
        "acct.txt",
        "5455|5455|rev3-b-short|FAILED|5:0|2026-11-30T08:59:00|2026-11-30T09:00:00|2026-11-30T09:00:12|vm\n",
    );
    let out = take(&[]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let files = snapshots(&exp.file("snaps"));
    assert_eq!(files.len(), 3);
    let after = read(&files[2]);
    let ended = &after["ended_jobs"][0];
    assert_eq!(
        (&ended["job_id"], &ended["state"]),
        (&"5455".into(), &"FAILED".into()),
        "{after}"
    );
    assert_eq!(ended["exit_code"], 5);
    assert_eq!(after["scheduler"]["sacct_calls"], 1);
}

/// Issue 13 (review r1 H4): `--json` with a snapshot folder whose path is not UTF-8 (a Latin-1
/// named share): the path printed lossily, exit 0, no panic after the file was written.
#[test]
fn json_with_a_folder_path_that_is_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    let exp = Exp::new("");
    let name = std::ffi::OsStr::from_bytes(b"j\xffson");
    let out = common::Out(
        exp.cmd(&["snapshot", "--json", "--dir"])
            .arg(name)
            .env(NO_SQUEUE.0, NO_SQUEUE.1)
            .output()
            .unwrap(),
    );
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let v: serde_json::Value = serde_json::from_str(&out.stdout()).expect("one JSON document");
    assert_eq!(v["outcome"], "written");
    assert!(v["file"].as_str().unwrap().contains("j\u{fffd}son"), "{v}");
    assert_eq!(snapshots(&exp.path().join(name)).len(), 1);
}

/// Issue 13 (review r1 H5): output to a full disk (`>/dev/full`; the crontab recipe appends to
/// a log on the snapshot folder's filesystem): exit 3 with the reason on stderr, not a panic.
#[test]
fn output_to_a_full_disk_is_exit_3_not_a_panic() {
    let exp = Exp::new("");
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    for args in [
        &["snapshot", "cron"][..],
        &["snapshot", "--dir", "snaps"][..],
    ] {
        let out = common::Out(
            exp.cmd(args)
                .env(NO_SQUEUE.0, NO_SQUEUE.1)
                .stdout(full())
                .output()
                .unwrap(),
        );
        assert_eq!(out.code(), 3, "{args:?}: {}", out.stderr());
        assert!(
            out.stderr().contains("No space left on device"),
            "{}",
            out.stderr()
        );
        assert!(!out.stderr().contains("panicked"), "{}", out.stderr());
    }
}

/// Issue 13 (review r1 M9): `--every` under 10 s is refused (each snapshot runs squeue): exit 2
/// with the reason, nothing taken.
#[test]
fn every_under_ten_seconds_is_refused() {
    let exp = Exp::new("");
    for period in ["1ms", "1s", "9s"] {
        let out = snapshot(&exp, &["--every", period]);
        assert_eq!(out.code(), 2, "{period}: {}", out.stderr());
        assert!(
            out.stderr().contains("at most every 10 s"),
            "{}",
            out.stderr()
        );
    }
    assert!(snapshots(&exp.file("snaps")).is_empty());
}

/// Issue 13 (review r1 M8): SIGTERM to an `--every` loop waiting for a lock another host holds
/// ends it at once (exit 0, "stopped"), not after the lock wait (90 s by default, past
/// systemd's stop timeout).
#[test]
fn every_waiting_for_a_held_lock_stops_on_sigterm() {
    let exp = Exp::new("");
    std::fs::create_dir(exp.file("snaps")).unwrap();
    exp.write(
        "snaps/.snapshot.lock",
        "otherhost:5:2026-01-01T00:00:00+00:00",
    );
    let (child, gate) = exp.spawn_paused_at(
        "snapshot-started",
        &["snapshot", "--dir", "snaps", "--every", "1m"],
        &[NO_SQUEUE],
    );
    signal(&child, libc::SIGTERM);
    std::fs::write(&gate, "").unwrap();
    let mut child = child;
    wait_until("the loop to end", Duration::from_secs(30), || {
        child.try_wait().unwrap().is_some()
    });
    let out = finish(child);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(out.stderr().contains("stopped"), "{}", out.stderr());
    assert!(!out.stderr().contains("error"), "{}", out.stderr());
}
