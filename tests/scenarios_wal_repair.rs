//! Issue 10, item 3 ("keep every record that can be kept"): `check --repair` brings back the
//! rows of the transactions committed behind a damaged frame of a killed runner's WAL, from the
//! copy the store kept of it.

mod common;
mod wal_common;
use std::path::Path;
use wal_common::*;

/// Finished attempts, events and done tasks of the database at `db` (with its WAL beside it,
/// which SQLite replays as far as it can), read from a scratch copy so that nothing changes.
fn committed(db: &Path) -> [i64; 3] {
    let tmp = tempfile::tempdir().unwrap();
    let to = tmp.path().join("labtrail.db");
    std::fs::copy(db, &to).unwrap();
    let wal = db.with_file_name("labtrail.db-wal");
    if wal.exists() {
        std::fs::copy(&wal, tmp.path().join("labtrail.db-wal")).unwrap();
    }
    let c = rusqlite::Connection::open(&to).unwrap();
    let n = |sql: &str| c.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    [
        n("SELECT COUNT(*) FROM attempts WHERE outcome IS NOT NULL"),
        // The log's lines: its rows and, since issue 15, those attempts keep as ids.
        n("SELECT (SELECT COUNT(*) FROM events)
                + (SELECT COUNT(started_event) + COUNT(finished_event) FROM attempts)"),
        n("SELECT COUNT(*) FROM tasks WHERE state = 'done'"),
    ]
}

/// Issue 10, item 3 ("keep every record that can be kept"): a killed runner's WAL damaged in
/// the middle; `status` keeps a copy; `check --repair` brings back the attempts, events and done
/// tasks committed behind the damage from that copy; the next `run` resumes without running a
/// recovered task again, and `check` passes.
#[test]
fn a_repair_recovers_the_rows_committed_behind_wal_damage() {
    let exp = small_tasks();
    killed_after(&exp, 24);
    let db = exp.file(".labtrail/labtrail.db");
    let wal = wal_path(&exp);
    let full = committed(&db);
    let shape = wal_shape(&wal);
    overwrite(
        &wal,
        shape.page_byte(shape.middle_frame(), 200),
        &[0xee; 32],
    );
    let prefix = committed(&db);
    let status = exp.run(&["status"]);
    assert!(
        status.stderr().contains("damaged at frame"),
        "{}",
        status.stderr()
    );
    assert_eq!(wal_copies(&exp).len(), 1);

    // As the message says: no --yes needed, the kept copy makes the store one to repair.
    let repair = exp.run(&["check", "--repair"]);
    assert_eq!(repair.code(), 0, "{}{}", repair.stdout(), repair.stderr());
    assert!(
        repair.stdout().contains("kept the damaged database"),
        "{}",
        repair.stdout()
    );
    println!("{}", repair.stdout());
    let after = committed(&db);
    let names = ["finished attempts", "events", "done tasks"];
    let mut fractions = [0.0; 3];
    for i in 0..3 {
        let behind = full[i] - prefix[i];
        let back = after[i] - prefix[i];
        fractions[i] = back as f64 / behind.max(1) as f64;
        println!(
            "{}: {back} of {behind} committed behind the damage recovered ({:.2}); {} before the damage, {} after the repair",
            names[i], fractions[i], prefix[i], after[i]
        );
        assert!(
            behind > 0,
            "{}: nothing behind the damage ({full:?} {prefix:?})",
            names[i]
        );
    }
    assert!(fractions.iter().all(|f| *f >= 0.8), "{}", repair.stdout());
    assert!(
        repair
            .stdout()
            .contains("kept copy(ies) of a damaged write-ahead log"),
        "{}",
        repair.stdout()
    );
    let check = exp.run(&["check"]);
    assert_eq!(check.code(), 0, "{}{}", check.stdout(), check.stderr());

    // The next run resumes: a task whose successful attempt came back does not run again.
    let recovered_done: Vec<i64> =
        exp.column("SELECT json_extract(params, '$.i') FROM tasks WHERE state = 'done'");
    let before = exp.ledger("ledger.txt").len();
    let run = exp.run(&["run", "exp.toml", "-q", "--no-progress"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let again: Vec<String> = exp.ledger("ledger.txt")[before..]
        .iter()
        .filter(|i| recovered_done.contains(&i.parse().unwrap()))
        .cloned()
        .collect();
    assert!(again.is_empty(), "done tasks ran again: {again:?}");
    assert_eq!(exp.count("done"), TASKS);
    let check = exp.run(&["check"]);
    assert_eq!(check.code(), 0, "{}{}", check.stdout(), check.stderr());
}

/// Issue 10, item 3: `check --repair` as the first command after the crash (no command kept a
/// copy of the damaged WAL): the repair finds the damage in the WAL it keeps with the damaged
/// database, records it, and brings the rows back from there.
#[test]
fn a_repair_right_after_the_crash_reads_the_damaged_wal_itself() {
    let exp = small_tasks();
    killed_after(&exp, 16);
    let db = exp.file(".labtrail/labtrail.db");
    let wal = wal_path(&exp);
    let full = committed(&db);
    let shape = wal_shape(&wal);
    overwrite(
        &wal,
        shape.page_byte(shape.middle_frame(), 200),
        &[0xee; 32],
    );
    let prefix = committed(&db);
    let repair = exp.run(&["check", "--repair"]);
    assert_eq!(repair.code(), 0, "{}{}", repair.stdout(), repair.stderr());
    let after = committed(&db);
    println!(
        "done tasks: {} of {} committed behind the damage recovered",
        after[2] - prefix[2],
        full[2] - prefix[2]
    );
    assert!(full[2] > prefix[2]);
    assert!(
        (after[2] - prefix[2]) * 10 >= (full[2] - prefix[2]) * 8,
        "{}",
        repair.stdout()
    );
    let recorded: Vec<String> =
        exp.column("SELECT kind FROM records WHERE kind LIKE 'wal_damage%' ORDER BY id");
    assert_eq!(recorded, ["wal_damage", "wal_damage_repaired"]);
    let check = exp.run(&["check"]);
    assert_eq!(check.code(), 0, "{}{}", check.stdout(), check.stderr());
    let run = exp.run(&["run", "exp.toml", "-q", "--no-progress"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let check = exp.run(&["check"]);
    assert_eq!(check.code(), 0, "{}{}", check.stdout(), check.stderr());
}
