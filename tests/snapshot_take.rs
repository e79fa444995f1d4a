//! Issue 13: taking a snapshot, driven through the library with a collector that returns
//! snapshots built here (what the scheduler would have said), so that the writer, the lock, the
//! slot check and the unchanged check are tested on real files and real processes. The
//! binary's own tests are in `snapshot_take_cli.rs`.
//!
//! Some tests run this test binary again as a child (`child_take`, selected by
//! `LABTRAIL_TEST_CHILD`): a real second process that takes a snapshot, can be paused at a
//! fault-injection point and killed there.

use labtrail::app::snapshot::{take_every, take_with, Parts, TakeOptions, TakeOutcome};
use labtrail::app::snapshots_index::IndexError;
use labtrail::snapshot::config::{JobScope, SnapshotConfig};
use labtrail::snapshot::model::{Counts, Job};
use labtrail::snapshot::{write, Snapshot};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

mod common;
use common::wait_until;

/// What a collector that saw `jobs` running jobs and these flags returns.
fn seen(jobs: u64, flags: &[&str]) -> Snapshot {
    let running_jobs = (0..jobs)
        .map(|i| Job {
            job_id: format!("2329337{i}"),
            name: "mono_s2s".into(),
            state: "R".into(),
            time: "1:38:04".into(),
            node: "c3gpu-a9-u33-1".into(),
            state_long: "RUNNING".into(),
            elapsed_s: 5884,
            ..Job::default()
        })
        .collect();
    let mut snap = Snapshot {
        user: "paco0228".into(),
        running_jobs,
        completion_flags: flags.iter().map(|f| f.to_string()).collect(),
        counts: Counts {
            running: jobs,
            flags: flags.len() as u64,
            ..Counts::default()
        },
        ..Snapshot::default()
    };
    snap.disk_usage.insert("mono_s2s_work".into(), "45G".into());
    snap
}

fn config(base: &Path) -> SnapshotConfig {
    SnapshotConfig {
        base: base.to_path_buf(),
        file: None,
        flags: vec!["*.flag".into()],
        measure: Vec::new(),
        jobs: JobScope::Mine,
        stores: Vec::new(),
        experiments: Vec::new(),
        slot: Duration::from_secs(60),
        disk_budget: Duration::from_secs(60),
        cross_mounts: false,
    }
}

fn options(dir: &Path) -> TakeOptions {
    TakeOptions {
        dir: dir.to_path_buf(),
        commit: false,
        config: config(dir.parent().unwrap()),
        stop: None,
    }
}

fn no_index(_: &Path, _: &str, _: &Snapshot) -> Result<(), IndexError> {
    Ok(())
}

/// Takes a snapshot in `dir` whose collector sees `snap`.
fn take_seeing(dir: &Path, snap: Snapshot) -> TakeOutcome {
    let collect = move |_: &SnapshotConfig, _: Option<&Snapshot>| snap.clone();
    let parts = Parts {
        collect: &collect,
        index: &no_index,
    };
    take_with(&options(dir), &parts).expect("take")
}

fn snapshot_files(dir: &Path) -> Vec<PathBuf> {
    write::list(dir).expect("list")
}

fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(write::TEMP_PREFIX))
        .collect()
}

/// The child process: takes one snapshot of `$SNAP_DIR` seeing `$SNAP_JOBS` jobs, prints its
/// outcome. Does nothing in a normal test run.
#[test]
fn child_take() {
    if std::env::var("LABTRAIL_TEST_CHILD").as_deref() != Ok("take") {
        return;
    }
    let dir = PathBuf::from(std::env::var("SNAP_DIR").unwrap());
    let jobs = std::env::var("SNAP_JOBS").unwrap().parse().unwrap();
    let outcome = take_seeing(&dir, seen(jobs, &[]));
    println!("OUTCOME {outcome:?}");
}

/// Starts `child_take` on `dir` seeing `jobs` jobs, paused at `point` (gate file `gate`).
fn spawn_child(dir: &Path, jobs: u64, pause: Option<(&str, &Path)>) -> Child {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(["child_take", "--exact", "--nocapture", "--test-threads=1"])
        .env("LABTRAIL_TEST_CHILD", "take")
        .env("SNAP_DIR", dir)
        .env("SNAP_JOBS", jobs.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some((point, gate)) = pause {
        c.env("LABTRAIL_FAULT", format!("pause:{point}"))
            .env("LABTRAIL_FAULT_GATE", gate);
        let _ = std::fs::remove_file(paused(gate));
    }
    let child = c.spawn().expect("spawn the child");
    if let Some((point, gate)) = pause {
        wait_until(
            &format!("the child paused at {point}"),
            Duration::from_secs(60),
            || paused(gate).exists(),
        );
    }
    child
}

fn paused(gate: &Path) -> PathBuf {
    let mut p = gate.as_os_str().to_owned();
    p.push(".paused");
    PathBuf::from(p)
}

fn outcome_of(child: Child) -> String {
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "child failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find(|l| l.contains("OUTCOME "))
        .unwrap_or_else(|| panic!("no outcome in {stdout}"))
        .to_string()
}

/// Issue 13: the file keeps seed 000's keys, so the seed's own `jq` recipes work on it.
#[test]
fn the_seeds_jq_recipes_work_on_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("experiment_snapshots");
    let TakeOutcome::Written { file, running, .. } = take_seeing(
        &dir,
        seen(
            3,
            &[
                "stage_0_setup_complete.flag",
                "stage_1_data_prep_complete.flag",
            ],
        ),
    ) else {
        panic!("not written")
    };
    assert_eq!(running, 3);
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    let today = jiff::Zoned::now().strftime("%Y%m%d").to_string();
    assert!(
        name.starts_with(&format!("snapshot_{today}_"))
            && name.len() == "snapshot_20260127_180000.json".len(),
        "{name}"
    );
    // Read back with serde: the seed's keys, and the additions filled in.
    let back = write::read(&file).unwrap();
    assert_eq!(back.running_jobs[0].job_id, "23293370");
    assert_eq!(back.schema, labtrail::snapshot::model::SNAPSHOT_SCHEMA);
    assert!(!back.host.is_empty());
    back.snapshot_timestamp
        .parse::<jiff::Timestamp>()
        .expect("RFC 3339 with an offset");
    let raw: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let keys: Vec<&str> = raw
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        keys[..5],
        [
            "snapshot_timestamp",
            "user",
            "running_jobs",
            "completion_flags",
            "disk_usage"
        ]
    );
    if Command::new("jq").arg("--version").output().is_err() {
        eprintln!("SKIPPED the jq half of this test: jq is not installed");
        return;
    }
    let jq = |args: &[&str]| {
        let out = Command::new("jq").args(args).arg(&file).output().unwrap();
        assert!(out.status.success(), "jq {args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    // The seed's recipes, as written there.
    let jobs: serde_json::Value = serde_json::from_str(&jq(&[".running_jobs"])).unwrap();
    assert_eq!(jobs[2]["name"], "mono_s2s");
    assert_eq!(jobs[0]["state"], "R");
    assert_eq!(jq(&["-r", ".running_jobs | length"]).trim(), "3");
    assert_eq!(jq(&["-r", ".disk_usage.mono_s2s_work"]).trim(), "45G");
    assert_eq!(
        jq(&["-r", ".completion_flags[1]"]).trim(),
        "stage_1_data_prep_complete.flag"
    );
    let listed = Command::new("sh")
        .arg("-c")
        .arg(format!("ls {}/snapshot_{today}_*.json", dir.display()))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&listed.stdout).lines().count(), 1);
}

/// Issue 13: a second snapshot that says what the latest says writes nothing new; one that
/// differs does.
#[test]
fn unchanged_content_writes_no_new_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("snaps");
    let first = take_seeing(&dir, seen(2, &["a.flag"]));
    let TakeOutcome::Written { file, .. } = first else {
        panic!("{first:?}")
    };
    let again = take_seeing(&dir, seen(2, &["a.flag"]));
    assert_eq!(
        again,
        TakeOutcome::Unchanged {
            latest: file,
            commit: None,
            warnings: Vec::new()
        }
    );
    assert_eq!(snapshot_files(&dir).len(), 1);
    let changed = take_seeing(&dir, seen(2, &["a.flag", "b.flag"]));
    assert!(
        matches!(changed, TakeOutcome::Written { .. }),
        "{changed:?}"
    );
    assert_eq!(snapshot_files(&dir).len(), 2);
    // Two in the same second: the second file gets `-2`, and sorts after the first.
    let names: Vec<String> = snapshot_files(&dir)
        .iter()
        .map(|p| write::read(p).unwrap().completion_flags.join(","))
        .collect();
    assert_eq!(names, ["a.flag", "a.flag,b.flag"]);
}

/// Issue 13: the folder's .gitignore keeps the index, the lock and temporary files out of git.
#[test]
fn the_folder_ignores_its_working_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("snaps");
    take_seeing(&dir, seen(1, &[]));
    let ignore = std::fs::read_to_string(dir.join(".gitignore")).unwrap();
    for pattern in [
        "/.snapshot-index.db*",
        "/.snapshot.lock*",
        "/.snapshot-tmp-*",
    ] {
        assert!(
            ignore.lines().any(|l| l == pattern),
            "{pattern} in {ignore}"
        );
    }
    assert!(!dir.join(".snapshot.lock").exists(), "the lock is released");
}

/// Issue 13: killed (SIGKILL) at the worst moment, the temporary file written and not yet
/// renamed: no partial `snapshot_*.json`; the next snapshot removes the temporary file.
#[test]
fn a_writer_killed_before_its_rename_leaves_no_snapshot_and_the_next_cleans_up() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("snaps");
    let gate = tmp.path().join("gate");
    let mut child = spawn_child(&dir, 4, Some(("snapshot-before-rename", &gate)));
    assert_eq!(temp_files(&dir).len(), 1, "the temporary file is written");
    assert!(snapshot_files(&dir).is_empty());
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(snapshot_files(&dir).is_empty(), "no partial snapshot");
    // Its lock is left behind, naming a dead process of this host: taken over at once.
    assert!(dir.join(".snapshot.lock").exists());
    let next = take_seeing(&dir, seen(4, &[]));
    let TakeOutcome::Written { file, warnings, .. } = next else {
        panic!("{next:?}")
    };
    assert!(
        warnings.iter().any(|w| w.contains("took over")),
        "{warnings:?}"
    );
    assert!(temp_files(&dir).is_empty(), "{:?}", temp_files(&dir));
    assert_eq!(snapshot_files(&dir), std::slice::from_ref(&file));
    assert_eq!(write::read(&file).unwrap().running_jobs.len(), 4);
}

/// Issue 13: two snapshots started at once on this host (two cron entries, a cron entry and a
/// hand-run one): the second waits for the first's lock, then finds the slot taken and writes
/// nothing, although what it saw differs.
#[test]
fn two_processes_at_once_write_one_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("snaps");
    let gate_a = tmp.path().join("gate-a");
    let gate_b = tmp.path().join("gate-b");
    // A holds the lock, its file not yet renamed; B has started.
    let a = spawn_child(&dir, 1, Some(("snapshot-before-rename", &gate_a)));
    let b = spawn_child(&dir, 2, Some(("snapshot-started", &gate_b)));
    std::fs::write(&gate_b, "").unwrap();
    std::fs::write(&gate_a, "").unwrap();
    let (a, b) = (outcome_of(a), outcome_of(b));
    assert!(a.contains("Written"), "{a}");
    assert!(b.contains("SlotTaken"), "{b}");
    assert_eq!(snapshot_files(&dir).len(), 1);
}

/// Issue 13: a snapshot another login node took within the slot: nothing written; one older
/// than the slot, or this host's own earlier one, does not stop a new one.
#[test]
fn another_hosts_snapshot_in_this_slot_is_not_written_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("snaps");
    std::fs::create_dir_all(&dir).unwrap();
    let put = |name: &str, host: &str, ago_s: i64| {
        let mut s = seen(1, &[]);
        let t = jiff::Zoned::now()
            .checked_sub(jiff::SignedDuration::from_secs(ago_s))
            .unwrap();
        s.snapshot_timestamp = labtrail::app::snapshot::rfc3339(&t);
        s.host = host.into();
        std::fs::write(dir.join(name), serde_json::to_string(&s).unwrap()).unwrap();
    };
    put("snapshot_20000101_000000.json", "login2", 10);
    let out = take_seeing(&dir, seen(2, &[]));
    assert!(
        matches!(&out, TakeOutcome::SlotTaken { host, .. } if host == "login2"),
        "{out:?}"
    );
    // Replaced by one older than the slot (by its time; names are the writer's local time).
    std::fs::remove_file(dir.join("snapshot_20000101_000000.json")).unwrap();
    put("snapshot_20000101_000001.json", "login2", 120);
    let out = take_seeing(&dir, seen(2, &[]));
    assert!(matches!(out, TakeOutcome::Written { .. }), "{out:?}");
    // This host's own snapshot a second ago: the next one (new content) is written.
    let out = take_seeing(&dir, seen(3, &[]));
    assert!(matches!(out, TakeOutcome::Written { .. }), "{out:?}");
}

/// Issue 13: the lock of a process that died on this host is taken over; one of another host
/// is respected until it is old; a live holder is waited for, then named.
#[test]
fn folder_lock_stale_and_live_holders() {
    use labtrail::snapshot::folder_lock::{FolderLock, LockError, LOCK_FILE, STALE_ELSEWHERE};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let lock = dir.join(LOCK_FILE);
    let mut dead = Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();
    let host = labtrail::exec::process::hostname();
    std::fs::write(
        &lock,
        format!("{host}:{dead_pid}:2026-01-27T18:00:00+01:00"),
    )
    .unwrap();
    let held = FolderLock::acquire(dir, Duration::ZERO).expect("a dead holder's lock is taken");
    assert!(held
        .taken_over_from
        .as_deref()
        .unwrap()
        .contains(&dead_pid.to_string()));
    // Held by a live process (this one, through `held`): named after the wait.
    let Err(LockError::Held(holder)) = FolderLock::acquire(dir, Duration::from_millis(200)) else {
        panic!("taken twice")
    };
    assert!(holder.contains(&std::process::id().to_string()), "{holder}");
    drop(held);
    assert!(!lock.exists());
    // Another host's lock, fresh: respected; older than STALE_ELSEWHERE: taken over.
    std::fs::write(&lock, "login2:4242:2026-01-27T18:00:00+01:00").unwrap();
    assert!(matches!(
        FolderLock::acquire(dir, Duration::from_millis(100)),
        Err(LockError::Held(_))
    ));
    let old = std::time::SystemTime::now() - STALE_ELSEWHERE - Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(&lock)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let held = FolderLock::acquire(dir, Duration::ZERO).expect("an old lock of another host");
    assert!(held
        .taken_over_from
        .as_deref()
        .unwrap()
        .starts_with("login2:4242"));
}

/// Issue 13: `--every` takes one snapshot per period until stopped, the stop asked between
/// snapshots (the library's loop; the binary with SIGTERM is in snapshot_take_cli.rs).
#[test]
fn every_takes_several_until_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("snaps");
    let stop = AtomicBool::new(false);
    let n = AtomicU64::new(0);
    let taken = take_every(Duration::from_millis(50), &stop, || {
        // The content changes between snapshots: one more job each time.
        let jobs = n.fetch_add(1, Ordering::SeqCst) + 1;
        let out = take_seeing(&dir, seen(jobs, &[]));
        assert!(matches!(out, TakeOutcome::Written { .. }), "{out:?}");
        if jobs == 3 {
            stop.store(true, Ordering::SeqCst);
        }
    });
    assert_eq!(taken, 3);
    assert_eq!(snapshot_files(&dir).len(), 3);
}

/// Issue 13: an index that cannot be updated is a warning; the snapshot is written.
#[test]
fn an_index_failure_is_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("snaps");
    let collect = |_: &SnapshotConfig, _: Option<&Snapshot>| seen(1, &[]);
    let failing = |d: &Path, _: &str, _: &Snapshot| {
        Err(IndexError {
            dir: d.display().to_string(),
            detail: "disk full".into(),
        })
    };
    let parts = Parts {
        collect: &collect,
        index: &failing,
    };
    let out = take_with(&options(&dir), &parts).unwrap();
    let TakeOutcome::Written { warnings, .. } = out else {
        panic!("{out:?}")
    };
    assert!(warnings
        .iter()
        .any(|w| w.contains("disk full") && w.contains("reindex")));
    assert_eq!(snapshot_files(&dir).len(), 1);
}

/// Issue 13: the collector gets the folder's latest snapshot (whose jobs that left the queue
/// it asks sacct about); a file in the folder that is not a snapshot is skipped with a warning.
#[test]
fn the_collector_is_given_the_latest_readable_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("snaps");
    take_seeing(&dir, seen(5, &[]));
    std::fs::write(dir.join("snapshot_29991231_235959.json"), "not json").unwrap();
    let got = std::sync::Mutex::new(None);
    let collect = |_: &SnapshotConfig, prev: Option<&Snapshot>| {
        *got.lock().unwrap() = prev.map(|p| p.running_jobs.len());
        seen(1, &[])
    };
    let parts = Parts {
        collect: &collect,
        index: &no_index,
    };
    let out = take_with(&options(&dir), &parts).unwrap();
    assert_eq!(*got.lock().unwrap(), Some(5));
    let TakeOutcome::Written { warnings, .. } = out else {
        panic!("{out:?}")
    };
    assert!(warnings
        .iter()
        .any(|w| w.contains("snapshot_29991231_235959.json")));
}

/// Issue 13 (review r1 M3): "latest" is the newest by the time inside the files, not by name:
/// a file named in UTC+1 (the shell's time zone) sorts after a newer one named in UTC (cron's);
/// a snapshot with the newer one's content is unchanged, not written again.
#[test]
fn the_latest_is_the_newest_by_time_not_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("snaps");
    std::fs::create_dir(&dir).unwrap();
    let mut older = seen(1, &[]);
    older.snapshot_timestamp = "2026-01-01T09:40:23+01:00".into();
    let mut newer = seen(2, &[]);
    newer.snapshot_timestamp = "2026-01-01T09:40:23+00:00".into();
    // A stray file whose time does not parse never counts as the latest.
    let mut stray = seen(3, &[]);
    stray.snapshot_timestamp = "garbage".into();
    for (name, snap) in [
        ("snapshot_20260101_094023.json", &older),
        ("snapshot_20260101_094023-2.json", &newer),
        ("snapshot_99999999_999997.json", &stray),
    ] {
        // As labtrail writes them (what `take` fills in is part of the content).
        let mut snap = snap.clone();
        snap.schema = labtrail::snapshot::model::SNAPSHOT_SCHEMA;
        snap.labtrail_version = env!("CARGO_PKG_VERSION").into();
        std::fs::write(dir.join(name), serde_json::to_vec_pretty(&snap).unwrap()).unwrap();
    }
    std::fs::rename(
        dir.join("snapshot_20260101_094023.json"),
        dir.join("snapshot_20260101_104023.json"),
    )
    .unwrap();
    let out = take_seeing(&dir, seen(2, &[]));
    let TakeOutcome::Unchanged { latest, .. } = out else {
        panic!("{out:?}")
    };
    assert!(
        latest.ends_with("snapshot_20260101_094023-2.json"),
        "{latest:?}"
    );
    assert_eq!(snapshot_files(&dir).len(), 3);
}

/// Issue 13 (review r1 M4): a lock of this host naming a live pid that is another process (pid
/// reused after a reboot: its start time and boot differ from the lock's) is stale, taken over.
#[test]
fn a_lock_naming_a_reused_pid_is_taken_over() {
    let tmp = tempfile::tempdir().unwrap();
    let host = labtrail::exec::process::hostname();
    std::fs::write(
        tmp.path().join(".snapshot.lock"),
        format!("{host}:1:2026-01-01T00:00:00+00:00 start=1@another-boot"),
    )
    .unwrap();
    let held =
        labtrail::snapshot::folder_lock::FolderLock::acquire(tmp.path(), Duration::from_secs(2))
            .expect("the reused pid's lock is stale");
    assert!(held.taken_over_from.is_some());
}
