//! Issue 2, scenario 7 (a corrupted store) and `check`.

mod common;
use common::*;
use std::io::{Seek, SeekFrom, Write};

fn finished_exp() -> Exp {
    let exp = Exp::new(
        r#"
[experiment]
name = "c"
command = "echo '{\"x\": {x}}' > $LABTRAIL_RESULT; echo {x} >> ledger.txt"
[params]
x = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]
# The records these tests count are the ones they write (issue 12: a run captures its own).
[archive]
capture = false
"#,
    );
    let out = exp.run(&["run", "exp.toml", "-q"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    // Fold the WAL into the main file so damage to it is damage to the data.
    let conn = rusqlite::Connection::open(exp.file(".labtrail/labtrail.db")).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    drop(conn);
    exp
}

fn backups(exp: &Exp) -> Vec<String> {
    std::fs::read_dir(exp.file(".labtrail"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("labtrail.db.damaged"))
        .collect()
}

fn assert_detected(exp: &Exp, what: &str) {
    for args in [&["status"][..], &["run", "exp.toml"][..], &["list"][..]] {
        let out = exp.run(args);
        assert_eq!(
            out.code(),
            3,
            "{what}: `{args:?}` exits 3: {}",
            out.stderr()
        );
        let err = out.stderr();
        assert!(err.contains("is damaged"), "{what}: {err}");
        assert!(
            err.contains("labtrail check --repair"),
            "{what}: says how to recover: {err}"
        );
        assert!(!err.contains("panicked"), "{what}: {err}");
    }
    assert!(
        !backups(exp).is_empty(),
        "{what}: the damaged file was kept as a backup"
    );
}

/// Scenario 7: scribbling over the database is detected on open; the damaged file is kept;
/// `check --repair` rebuilds the store and the next run resumes.
#[test]
fn scribbled_database_is_detected_kept_and_repaired() {
    let exp = finished_exp();
    let db = exp.file(".labtrail/labtrail.db");
    let len = std::fs::metadata(&db).unwrap().len();
    let mut f = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
    f.seek(SeekFrom::Start(len / 2)).unwrap();
    f.write_all(&vec![0xA5; 4096]).unwrap();
    drop(f);
    assert_detected(&exp, "scribbled");

    let repair = exp.run(&["check", "--repair"]);
    assert_eq!(repair.code(), 0, "{}", repair.stderr());
    assert!(
        repair.stdout().contains("kept the damaged database at"),
        "{}",
        repair.stdout()
    );
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(
        out.code(),
        0,
        "after repair the run completes: {}",
        out.stderr()
    );
    assert_eq!(exp.count("done"), 20);
    let again = exp.ledger("ledger.txt").len();
    assert!(again >= 20, "every task has run at least once ({again})");
}

/// Scenario 7: a truncated database is detected too, including one truncated to zero bytes.
#[test]
fn truncated_database_is_detected() {
    let exp = finished_exp();
    let db = exp.file(".labtrail/labtrail.db");
    let len = std::fs::metadata(&db).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&db)
        .unwrap()
        .set_len(len / 3)
        .unwrap();
    assert_detected(&exp, "truncated to a third");

    let exp = finished_exp();
    let db = exp.file(".labtrail/labtrail.db");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&db)
        .unwrap()
        .set_len(0)
        .unwrap();
    assert_detected(&exp, "truncated to zero");
}

/// `check` passes on a healthy store and reports broken invariants.
#[test]
fn check_reports_broken_invariants() {
    let exp = finished_exp();
    let ok = exp.run(&["check"]);
    assert_eq!(ok.code(), 0, "{}", ok.stderr());
    assert!(ok.stdout().starts_with("ok:"), "{}", ok.stdout());
    let conn = rusqlite::Connection::open(exp.file(".labtrail/labtrail.db")).unwrap();
    conn.execute("UPDATE attempts SET outcome = 'failed' WHERE number = 1 AND task_key = (SELECT key FROM tasks LIMIT 1)", []).unwrap();
    drop(conn);
    let bad = exp.run(&["check"]);
    assert_eq!(bad.code(), 3, "{}", bad.stdout());
    assert!(
        bad.stdout()
            .contains("is done but has no successful attempt"),
        "{}",
        bad.stdout()
    );
}

/// Commands that read a store say where they looked when there is none.
#[test]
fn missing_store_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_labtrail"))
        .arg("status")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no labtrail store")
            && err.contains("labtrail run")
            && err.contains("labtrail status EXPERIMENT.toml"),
        "{err}"
    );
}

/// Writes records of the finished run and of the store itself; returns them as read back, run's
/// first.
fn add_records(exp: &Exp) -> Vec<labtrail::store::RecordRow> {
    use labtrail::store::{Change, Store};
    let mut store = Store::open(&exp.file(".labtrail"), false).unwrap();
    let run = store.list_runs().unwrap()[0].id.clone();
    let key = store.tasks(&run, None).unwrap()[0].key.clone();
    store
        .apply(
            &run,
            &[
                Change::Record {
                    task: None,
                    kind: "provenance".into(),
                    json: r#"{"git":"abc123","dirty":false}"#.into(),
                },
                Change::Record {
                    task: Some(key),
                    kind: "provenance".into(),
                    json: r#"{"python":"3.12"}"#.into(),
                },
            ],
        )
        .unwrap();
    store
        .add_store_record("snapshot", r#"{"idle_nodes":3}"#)
        .unwrap();
    let mut all = store.records(&run, "provenance").unwrap();
    all.extend(store.store_records("snapshot").unwrap());
    assert_eq!(all.len(), 3);
    drop(store);
    let conn = rusqlite::Connection::open(exp.file(".labtrail/labtrail.db")).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    all
}

fn read_records(exp: &Exp) -> Vec<labtrail::store::RecordRow> {
    let store = labtrail::store::Store::open(&exp.file(".labtrail"), false).unwrap();
    let run = store.list_runs().unwrap()[0].id.clone();
    let mut all = store.records(&run, "provenance").unwrap();
    all.extend(store.store_records("snapshot").unwrap());
    all
}

/// `check --repair` salvages every table of the schema, the records table too: repairing a healthy
/// store keeps every record as it was, ids and times included.
#[test]
fn repair_keeps_records() {
    let exp = finished_exp();
    let before = add_records(&exp);
    // Every record: those added here and those the run wrote (what its attempts left).
    let records = exp.column::<i64>("SELECT COUNT(*) FROM records")[0];
    // A healthy store is rebuilt only when asked to be (issue 10).
    let repair = exp.run(&["check", "--repair", "--yes"]);
    assert_eq!(repair.code(), 0, "{}", repair.stderr());
    let report = repair.stdout();
    for table in ["runs", "tasks", "attempts", "events", "metrics"] {
        assert!(report.contains(&format!("  {table}: ")), "{report}");
    }
    assert!(report.contains("  tasks: 20 row(s) recovered"), "{report}");
    assert!(
        report.contains(&format!("  records: {records} row(s) recovered")),
        "{report}"
    );
    assert!(
        !report.contains("sqlite_"),
        "SQLite's own tables are its own: {report}"
    );
    assert_eq!(read_records(&exp), before);
    let ok = exp.run(&["check"]);
    assert_eq!(ok.code(), 0, "{}", ok.stdout());
}

/// A store whose events table is damaged keeps its records through `check --repair`; issue 10: and
/// every event the damaged root page pointed to.
#[test]
fn damaged_store_keeps_its_records_through_repair() {
    let exp = finished_exp();
    let before = add_records(&exp);
    let db = exp.file(".labtrail/labtrail.db");
    {
        // Since issue 15 an ordinary run writes two event rows, not four per task; a store
        // that labtrail 0.9.0 began keeps its `started` and `finished` rows (migration leaves
        // them), and those are what make the table span several pages here.
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch(
            "INSERT INTO events (run_id, task_key, at, kind, detail)
                 SELECT run_id, key, '2026-11-01T00:00:00.000Z', 'started', 'attempt 1, pid 7'
                 FROM tasks;
             INSERT INTO events (run_id, task_key, at, kind, detail)
                 SELECT run_id, key, '2026-11-01T00:00:01.000Z', 'finished', 'attempt 1: success (exit 0) -> done'
                 FROM tasks;
             PRAGMA wal_checkpoint(TRUNCATE);",
        )
        .unwrap();
    }
    let (page_size, events_root): (u64, u64) = {
        let c = rusqlite::Connection::open(&db).unwrap();
        let size = c.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
        let root = c
            .query_row(
                "SELECT rootpage FROM sqlite_master WHERE name = 'events'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        (size, root)
    };
    let events: usize = exp.column::<i64>("SELECT COUNT(*) FROM events")[0] as usize;
    let records = exp.column::<i64>("SELECT COUNT(*) FROM records")[0];
    assert!(
        events > 30,
        "events fill more than the root page ({events})"
    );
    let mut f = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
    f.seek(SeekFrom::Start((events_root - 1) * page_size))
        .unwrap();
    f.write_all(&vec![0xA5; page_size as usize]).unwrap();
    drop(f);
    assert_detected(&exp, "events scribbled");

    let repair = exp.run(&["check", "--repair"]);
    assert_eq!(repair.code(), 0, "{}", repair.stderr());
    let report = repair.stdout();
    // Issue 10: the events past the damaged root page are read page by page, every one of them
    // (the root of a table of several pages holds no rows), and none lands in `records`.
    assert!(
        report.contains(&format!(
            "  events: {events} row(s) recovered, SQLite read 0 then stopped"
        )),
        "{report}"
    );
    assert!(
        report.contains(&format!("  records: {records} row(s) recovered")),
        "{report}"
    );
    assert_eq!(read_records(&exp), before);
}
