//! The store's database across versions and damage: a version-1 database is migrated with its
//! data kept, a newer one is refused untouched, and a damaged one is reported (with a copy kept)
//! instead of panicking or being silently replaced.

use assert_cmd::Command;
use labtrail::plan::expand;
use labtrail::spec::Spec;
use labtrail::store::{schema, Change, Store, StoreError, TaskState, DB_FILE};
use rusqlite::{params, Connection};
use std::path::{Path, PathBuf};

const RUN: &str = "exp-20240101-000000";
const KEY: &str = "0123456789abcdef";

fn user_version(db: &Path) -> u32 {
    let c = Connection::open(db).unwrap();
    c.query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

/// Creates `dir/labtrail.db` at schema version 1, by hand, with one run, one done task with a
/// result, its successful attempt and an event.
fn make_v1_store(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let db = dir.join(DB_FILE);
    let c = Connection::open(&db).unwrap();
    c.execute_batch(schema::MIGRATIONS[0]).unwrap();
    c.pragma_update(None, "user_version", 1).unwrap();
    let t = "2024-01-01T00:00:00.000Z";
    c.execute(
        "INSERT INTO runs (id, experiment, spec_path, spec_text, plan_hash, created_at, updated_at)
         VALUES (?1, 'exp', 'exp.toml', '[experiment]\nname = \"exp\"\ncommand = \"echo {rep}\"\n', 'hash', ?2, ?2)",
        params![RUN, t],
    )
    .unwrap();
    c.execute(
        "INSERT INTO tasks (run_id, key, seq, stage, label, params, command, workdir, env, deps,
                            in_plan, state, attempts, result, reason, finished_at)
         VALUES (?1, ?2, 0, 'main', 'rep=a', '{\"rep\":\"a\"}', 'echo a', '.', '{}', '[]',
                 1, 'done', 1, '{\"acc\":0.93,\"loss\":[1,0.5]}', NULL, ?3)",
        params![RUN, KEY, t],
    )
    .unwrap();
    c.execute(
        "INSERT INTO attempts (run_id, task_key, number, host, pid, started_at, ended_at, exit_code,
                               signal, outcome, reason, stdout_path, stderr_path)
         VALUES (?1, ?2, 1, 'node7', 4242, ?3, ?3, 0, NULL, 'success', NULL, 'out.txt', 'err.txt')",
        params![RUN, KEY, t],
    )
    .unwrap();
    c.execute(
        "INSERT INTO events (run_id, task_key, at, kind, detail) VALUES (?1, ?2, ?3, 'finished', 'attempt 1: success -> done')",
        params![RUN, KEY, t],
    )
    .unwrap();
    drop(c);
    assert_eq!(user_version(&db), 1);
    db
}

fn columns(db: &Path, table: &str) -> Vec<String> {
    let c = Connection::open(db).unwrap();
    let mut st = c.prepare(&format!("PRAGMA table_info({table})")).unwrap();
    let cols = st
        .query_map([], |r| r.get::<_, String>(1))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    cols
}

/// Files in `dir` whose names start with `labtrail.db.damaged`.
fn damaged_copies(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with("labtrail.db.damaged") && !n.ends_with("-wal") && !n.ends_with("-shm")
            })
        })
        .collect();
    out.sort();
    out
}

/// Deterministic non-SQLite bytes.
fn garbage(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Runs `labtrail ARGS --store DIR` and returns (exit code, stderr).
fn labtrail(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::cargo_bin("labtrail")
        .unwrap()
        .args(args)
        .arg("--store")
        .arg(dir)
        .arg("--no-progress")
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_no_panic(stderr: &str) {
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "labtrail panicked:\n{stderr}"
    );
}

#[test]
fn version_1_is_migrated_with_its_data() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(".labtrail");
    let db = make_v1_store(&dir);
    assert!(!columns(&db, "attempts").contains(&"max_rss_kb".to_string()));

    let store = Store::open(&dir, false).expect("a version-1 store opens");
    let tasks = store.tasks(RUN, None).unwrap();
    assert_eq!(tasks.len(), 1);
    let t = &tasks[0];
    assert_eq!(t.key, KEY);
    assert_eq!(t.label, "rep=a");
    assert_eq!(t.state, TaskState::Done);
    assert_eq!(t.attempts, 1);
    assert_eq!(t.params, serde_json::json!({"rep": "a"}));
    assert_eq!(
        t.result,
        Some(serde_json::json!({"acc": 0.93, "loss": [1, 0.5]}))
    );
    assert_eq!(store.tasks(RUN, Some(TaskState::Done)).unwrap().len(), 1);
    assert!(store
        .tasks(RUN, Some(TaskState::Pending))
        .unwrap()
        .is_empty());

    let attempts = store.attempts(RUN, KEY).unwrap();
    assert_eq!(attempts.len(), 1);
    let a = &attempts[0];
    assert_eq!(a.number, 1);
    assert_eq!(a.host, "node7");
    assert_eq!(a.pid, Some(4242));
    assert_eq!(a.exit_code, Some(0));
    assert_eq!(a.outcome.map(|o| o.as_str()), Some("success"));
    // A relative path is read as relative to the store (where labtrail keeps attempt files).
    assert_eq!(
        a.stdout_path,
        store.dir().join("out.txt").display().to_string()
    );
    // Columns added by version 2 exist and are empty for old attempts.
    assert_eq!(a.max_rss_kb, None);
    assert_eq!(a.user_cpu_s, None);
    assert_eq!(a.sys_cpu_s, None);
    assert!(store.metrics(RUN, KEY, 1).unwrap().is_empty());

    assert_eq!(store.events(RUN).unwrap().len(), 1);
    let runs = store.list_runs().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].total, runs[0].done), (1, 1));
    assert!(
        store.check().unwrap().is_empty(),
        "migrated store is consistent"
    );
    // A run made before folder layouts were recorded keeps its tasks' `work/` folders.
    assert!(store
        .folders(RUN)
        .unwrap()
        .task_dir(KEY)
        .ends_with(format!("tasks/{KEY}/work")));
    drop(store);

    assert_eq!(user_version(&db), schema::CURRENT_VERSION);
    for col in ["result", "max_rss_kb", "user_cpu_s", "sys_cpu_s"] {
        assert!(
            columns(&db, "attempts").contains(&col.to_string()),
            "attempts.{col} should exist"
        );
    }
    // Same columns as a store created by this version.
    let fresh = tmp.path().join("fresh");
    drop(Store::open(&fresh, true).unwrap());
    for table in ["runs", "tasks", "attempts", "events", "metrics", "records"] {
        assert_eq!(
            columns(&db, table),
            columns(&fresh.join(DB_FILE), table),
            "table {table}"
        );
    }

    // Opening again is a no-op on the schema and keeps the data.
    let store = Store::open(&dir, false).unwrap();
    assert_eq!(store.tasks(RUN, None).unwrap().len(), 1);
    drop(store);
    assert_eq!(user_version(&db), schema::CURRENT_VERSION);
    assert!(damaged_copies(&dir).is_empty());
}

/// Every row of every table of `db`, as text, table by table (in name order).
fn dump(db: &Path) -> Vec<String> {
    let c = Connection::open(db).unwrap();
    let tables: Vec<String> = {
        let mut st = c
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap();
        let names = st.query_map([], |r| r.get(0)).unwrap();
        names.collect::<Result<_, _>>().unwrap()
    };
    let mut out = Vec::new();
    for t in tables {
        let mut st = c
            .prepare(&format!("SELECT * FROM {t} ORDER BY 1, 2"))
            .unwrap();
        let n = st.column_count();
        let rows = st
            .query_map([], |r| {
                Ok((0..n)
                    .map(|i| format!("{:?}", r.get::<_, rusqlite::types::Value>(i).unwrap()))
                    .collect::<Vec<_>>()
                    .join("|"))
            })
            .unwrap();
        for row in rows {
            out.push(format!("{t}: {}", row.unwrap()));
        }
    }
    out
}

/// The schema of `db`: every table's and index's definition, by name.
fn schema_sql(db: &Path) -> Vec<(String, String)> {
    let c = Connection::open(db).unwrap();
    let mut st = c
        .prepare("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
        .unwrap();
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

/// A version-4 database (the schema before records), with a row in every table, gains the records
/// table and keeps every row; records can then be written and read.
#[test]
fn version_4_gains_records_and_keeps_every_row() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(".labtrail");
    let db = make_v1_store(&dir);
    {
        let c = Connection::open(&db).unwrap();
        for sql in &schema::MIGRATIONS[1..4] {
            c.execute_batch(sql).unwrap();
        }
        c.pragma_update(None, "user_version", 4).unwrap();
        c.execute(
            "UPDATE runs SET executor = 'slurm', layout = 2 WHERE id = ?1",
            [RUN],
        )
        .unwrap();
        c.execute(
            "UPDATE attempts SET result = '{\"acc\":0.93}', max_rss_kb = 512, job_id = '77_1', node = 'n1' WHERE run_id = ?1",
            [RUN],
        )
        .unwrap();
        c.execute(
            "INSERT INTO metrics (run_id, task_key, attempt, line, record) VALUES (?1, ?2, 1, 1, '{\"step\":1}')",
            params![RUN, KEY],
        )
        .unwrap();
    }
    assert_eq!(user_version(&db), 4);
    let before = dump(&db);
    assert!(
        ["runs", "tasks", "attempts", "events", "metrics"]
            .iter()
            .all(|t| before.iter().any(|row| row.starts_with(&format!("{t}: ")))),
        "a row in every table: {before:#?}"
    );
    assert!(columns(&db, "records").is_empty());

    let mut store = Store::open(&dir, false).expect("a version-4 store opens");
    assert_eq!(user_version(&db), schema::CURRENT_VERSION);
    // Version 6 gives every run made before it key scheme 1, the keys it was made with;
    // version 7 gives every attempt no cancel decision; version 9 no event ids (its events
    // stay rows).
    let kept: Vec<String> = before
        .iter()
        .map(|row| {
            if row.starts_with("runs: ") {
                format!("{row}|Integer(1)")
            } else if row.starts_with("attempts: ") {
                format!("{row}|Null|Null|Null")
            } else {
                row.clone()
            }
        })
        .collect();
    // ... and schema 10's counts of the tasks, made from them (issue 15).
    let mut kept = kept;
    kept.push(format!(
        "task_counts: Text(\"{RUN}\")|Text(\"main\")|Integer(1)|Text(\"done\")|Integer(1)"
    ));
    // ... and its parameter summary, made from its tasks.
    kept.push(format!(
        "param_summaries: Text(\"{RUN}\")|Text(\"[{{\\\"name\\\":\\\"rep\\\",\\\"first\\\":[0,0],\\\"values\\\":1}}]\")"
    ));
    kept.sort();
    assert_eq!(
        dump(&db),
        kept,
        "every row kept, only the counts and the parameter summary added"
    );
    assert_eq!(store.key_scheme(RUN).unwrap(), 1);
    assert!(store.records(RUN, "provenance").unwrap().is_empty());
    // The migrated schema is the schema of a store made by this version.
    let fresh = tmp.path().join("fresh");
    {
        let mut new = Store::open(&fresh, true).unwrap();
        new.create_run("new", "exp", "exp.toml", "").unwrap();
        assert_eq!(
            new.key_scheme("new").unwrap(),
            2,
            "new runs get lineage keys"
        );
    }
    assert_eq!(schema_sql(&db), schema_sql(&fresh.join(DB_FILE)));

    store
        .apply(
            RUN,
            &[Change::Record {
                task: Some(KEY.into()),
                kind: "provenance".into(),
                json: r#"{"git":"abc123"}"#.into(),
            }],
        )
        .unwrap();
    let id = store
        .add_store_record("snapshot", r#"{"nodes":4}"#)
        .unwrap();
    drop(store);
    let store = Store::open(&dir, false).unwrap();
    let prov = store.records(RUN, "provenance").unwrap();
    assert_eq!(prov.len(), 1);
    assert_eq!(prov[0].task_key.as_deref(), Some(KEY));
    assert_eq!(prov[0].json, r#"{"git":"abc123"}"#);
    let snaps = store.store_records("snapshot").unwrap();
    assert_eq!((snaps.len(), snaps[0].id), (1, id));
    assert_eq!(store.tasks(RUN, None).unwrap()[0].state, TaskState::Done);
    assert!(store.check().unwrap().is_empty());
}

#[test]
fn migrated_store_accepts_new_attempts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(".labtrail");
    make_v1_store(&dir);
    let mut store = Store::open(&dir, false).unwrap();
    store
        .reset(RUN, &[KEY.to_string()])
        .expect("reset a migrated task");
    store
        .apply(
            RUN,
            &[
                Change::Started {
                    key: KEY.into(),
                    attempt: 2,
                    host: "node8".into(),
                    pid: 99,
                    started_at: labtrail::store::now(),
                    stdout: "out2.txt".into(),
                    stderr: "err2.txt".into(),
                },
                Change::Finished {
                    key: KEY.into(),
                    attempt: 2,
                    ended_at: labtrail::store::now(),
                    exit_code: Some(0),
                    signal: None,
                    outcome: labtrail::outcome::Outcome::Success,
                    reason: None,
                    state: TaskState::Done,
                    result: Some(r#"{"acc":0.95}"#.into()),
                    max_rss_kb: Some(2048),
                    user_cpu_s: Some(1.5),
                    sys_cpu_s: Some(0.25),
                    metrics: vec![r#"{"step":1}"#.into()],
                },
            ],
        )
        .unwrap();
    let attempts = store.attempts(RUN, KEY).unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0].max_rss_kb, None, "old attempt unchanged");
    assert_eq!(attempts[1].max_rss_kb, Some(2048));
    assert_eq!(attempts[1].user_cpu_s, Some(1.5));
    let t = &store.tasks(RUN, None).unwrap()[0];
    assert_eq!(t.state, TaskState::Done);
    assert_eq!(t.result, Some(serde_json::json!({"acc": 0.95})));
    assert_eq!(store.metrics(RUN, KEY, 2).unwrap(), [r#"{"step":1}"#]);
}

#[test]
fn newer_schema_is_refused_and_left_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(".labtrail");
    drop(Store::open(&dir, true).unwrap());
    let db = dir.join(DB_FILE);
    let newer = schema::CURRENT_VERSION + 1;
    {
        let c = Connection::open(&db).unwrap();
        c.pragma_update(None, "user_version", newer).unwrap();
    }
    assert_eq!(user_version(&db), newer);
    let before = std::fs::read(&db).unwrap();

    match Store::open(&dir, false) {
        Err(StoreError::TooNew {
            path,
            found,
            supported,
        }) => {
            assert_eq!(path, db);
            assert_eq!(found, newer);
            assert_eq!(supported, schema::CURRENT_VERSION);
        }
        Err(e) => panic!("expected TooNew, got {e}"),
        Ok(_) => panic!("a newer schema must be refused"),
    }
    assert!(matches!(
        Store::open(&dir, true),
        Err(StoreError::TooNew { .. })
    ));
    assert_eq!(user_version(&db), newer, "user_version untouched");
    assert!(
        std::fs::read(&db).unwrap() == before,
        "database file untouched"
    );
    assert!(
        damaged_copies(&dir).is_empty(),
        "a newer store is not damaged"
    );

    // The command line reports it as a store problem (exit 3) and says to upgrade.
    let (code, stderr) = labtrail(&dir, &["list"]);
    assert_no_panic(&stderr);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("newer"), "{stderr}");
    assert_eq!(user_version(&db), newer);
}

#[test]
fn newer_schema_in_rollback_journal_mode_is_left_byte_for_byte() {
    // A database this build did not write (no WAL yet): refusing it must not convert it.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(".labtrail");
    let db = make_v1_store(&dir);
    let newer = schema::CURRENT_VERSION + 5;
    {
        let c = Connection::open(&db).unwrap();
        c.pragma_update(None, "user_version", newer).unwrap();
    }
    let before = std::fs::read(&db).unwrap();
    assert!(matches!(
        Store::open(&dir, false),
        Err(StoreError::TooNew { found, .. }) if found == newer
    ));
    assert_eq!(user_version(&db), newer);
    assert!(
        std::fs::read(&db).unwrap() == before,
        "database file untouched"
    );
}

#[test]
fn garbage_database_is_reported_as_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(".labtrail");
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join(DB_FILE);
    let bytes = garbage(16 * 1024);
    std::fs::write(&db, &bytes).unwrap();

    for create in [false, true] {
        match Store::open(&dir, create) {
            Err(StoreError::Corrupt { path, backup, .. }) => {
                assert_eq!(path, db);
                assert!(backup.is_file(), "backup {} should exist", backup.display());
                assert_eq!(backup.parent(), Some(dir.as_path()));
                assert!(backup
                    .file_name()
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .starts_with("labtrail.db.damaged"));
                assert!(std::fs::read(&backup).unwrap() == bytes, "backup is a copy");
            }
            Err(e) => panic!("expected Corrupt, got {e}"),
            Ok(_) => panic!("garbage must not open as a store (create = {create})"),
        }
    }
    assert!(
        std::fs::read(&db).unwrap() == bytes,
        "the damaged file is kept as it was, not replaced"
    );
    assert!(!damaged_copies(&dir).is_empty());

    let (code, stderr) = labtrail(&dir, &["list"]);
    assert_no_panic(&stderr);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("damaged"), "{stderr}");
}

#[test]
fn truncated_database_is_reported_as_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(".labtrail");
    let db = dir.join(DB_FILE);
    {
        // A real store with enough rows to span many pages.
        let text = "[experiment]\nname = \"exp\"\ncommand = \"python3 train.py --a {a} --b {b}\"\n\
                    [params]\na = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n\
                    b = [\"p\", \"q\", \"r\", \"s\", \"t\", \"u\", \"v\", \"w\", \"x\", \"y\", \"z\", \"zz\"]\n"
            .replace("{a}", "{a} --padding-to-make-rows-longer-and-use-more-pages {a}");
        let spec = Spec::parse(&tmp.path().join("exp.toml"), text).unwrap();
        let plan = expand(&spec);
        let mut store = Store::open(&dir, true).unwrap();
        store
            .create_run(RUN, &spec.name, "exp.toml", &spec.source)
            .unwrap();
        store
            .sync_plan(RUN, &plan.hash, || plan.store_rows(&spec))
            .unwrap();
        for (i, t) in plan.tasks.iter().enumerate().take(50) {
            let at = labtrail::store::now();
            store
                .apply(
                    RUN,
                    &[
                        Change::Started {
                            key: t.key.to_string(),
                            attempt: 1,
                            host: "h".into(),
                            pid: 1000 + i as u32,
                            started_at: at.clone(),
                            stdout: "o".into(),
                            stderr: "e".into(),
                        },
                        Change::Finished {
                            key: t.key.to_string(),
                            attempt: 1,
                            ended_at: at,
                            exit_code: Some(0),
                            signal: None,
                            outcome: labtrail::outcome::Outcome::Success,
                            reason: None,
                            state: TaskState::Done,
                            result: Some(format!("{{\"i\":{i}}}")),
                            max_rss_kb: None,
                            user_cpu_s: None,
                            sys_cpu_s: None,
                            metrics: Vec::new(),
                        },
                    ],
                )
                .unwrap();
        }
        assert!(store.check().unwrap().is_empty());
    }
    // Closing the last connection checkpoints the WAL into the main file.
    let wal = dir.join(format!("{DB_FILE}-wal"));
    assert!(
        !wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0,
        "the WAL should be checkpointed on close"
    );
    let len = std::fs::metadata(&db).unwrap().len();
    assert!(
        len >= 16 * 4096,
        "test needs a multi-page database, got {len} bytes"
    );
    let f = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
    f.set_len(len / 2).unwrap();
    drop(f);

    match Store::open(&dir, false) {
        Err(StoreError::Corrupt { backup, detail, .. }) => {
            assert!(backup.is_file());
            assert_eq!(std::fs::metadata(&backup).unwrap().len(), len / 2);
            assert!(!detail.is_empty());
        }
        Err(e) => panic!("expected Corrupt, got {e}"),
        Ok(_) => panic!("a truncated database must not open"),
    }
    assert_eq!(damaged_copies(&dir).len(), 1);
    assert_eq!(
        std::fs::metadata(&db).unwrap().len(),
        len / 2,
        "left in place"
    );

    let (code, stderr) = labtrail(&dir, &["status"]);
    assert_no_panic(&stderr);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("damaged"), "{stderr}");
}

#[test]
fn empty_database_of_a_store_with_runs_is_corrupt() {
    // Truncated to nothing: SQLite would read it as a new, empty database.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(".labtrail");
    make_v1_store(&dir);
    std::fs::create_dir_all(dir.join("runs").join(RUN)).unwrap();
    std::fs::write(dir.join(DB_FILE), b"").unwrap();
    for create in [false, true] {
        assert!(
            matches!(Store::open(&dir, create), Err(StoreError::Corrupt { .. })),
            "create = {create}"
        );
    }
    assert!(!damaged_copies(&dir).is_empty());
    assert_eq!(std::fs::metadata(dir.join(DB_FILE)).unwrap().len(), 0);
}
