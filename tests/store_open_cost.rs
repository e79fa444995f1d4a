//! Issue 10: what opening a store costs on a 10^6-task store, printed (not asserted: no timed
//! assertions). Run it built with optimisations, where the numbers mean something:
//! `cargo test --release --test store_open_cost -- --ignored --nocapture`.

use labtrail::store::Store;
use std::time::{Duration, Instant};

const TASKS: u64 = 1_000_000;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[test]
#[ignore = "builds a 10^6-task store (about a minute); run with --release --ignored --nocapture"]
fn open_cost_of_a_million_task_store() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(".labtrail");
    drop(Store::open(&dir, true).unwrap());
    let db = dir.join(labtrail::store::DB_FILE);
    let t = "2026-01-01T00:00:00.000Z";
    let spec = "[experiment]\nname = \"big\"\ncommand = \"echo {i}\"\n[params]\ni = [0]\n";
    let c = rusqlite::Connection::open(&db).unwrap();
    let fill = Instant::now();
    c.execute(
        "INSERT INTO runs (id, experiment, spec_path, spec_text, plan_hash, created_at, updated_at)
         VALUES ('big', 'big', 'exp.toml', ?1, 'h', ?2, ?2)",
        rusqlite::params![spec, t],
    )
    .unwrap();
    c.execute_batch(&format!(
        "BEGIN;
         WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {TASKS} - 1)
         INSERT INTO tasks (run_id, key, seq, stage, label, params, command, workdir, env, deps,
                            state, attempts, result, finished_at)
         SELECT 'big', printf('%016x', i * 2654435761 % 18446744073709551557), i, 'main',
                'i=' || i, json_object('i', i), 'echo ' || i, '.', '{{}}', '[]', 'done', 1,
                json_object('i', i), '{t}' FROM n;
         INSERT INTO attempts (run_id, task_key, number, host, pid, started_at, ended_at,
                               exit_code, outcome, stdout_path, stderr_path)
         SELECT run_id, key, 1, 'h', 1, '{t}', '{t}', 0, 'success', 'o', 'e' FROM tasks;
         COMMIT;"
    ))
    .unwrap();
    c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    drop(c);
    let size = std::fs::metadata(&db).unwrap().len();
    println!(
        "store of {TASKS} tasks: {:.0} MB, filled in {:.1} s",
        size as f64 / 1e6,
        fill.elapsed().as_secs_f64()
    );

    let opens: Vec<Duration> = (0..7)
        .map(|_| {
            let start = Instant::now();
            let store = Store::open_read_only(&dir).unwrap();
            let took = start.elapsed();
            drop(store);
            took
        })
        .collect();
    println!("Store::open_read_only: median {:?} of 7", median(opens));
    let writes: Vec<Duration> = (0..3)
        .map(|_| {
            let start = Instant::now();
            drop(Store::open(&dir, false).unwrap());
            start.elapsed()
        })
        .collect();
    println!("Store::open (read-write): median {:?} of 3", median(writes));

    let c = rusqlite::Connection::open(&db).unwrap();
    let start = Instant::now();
    let verdict: String = c.query_row("PRAGMA quick_check", [], |r| r.get(0)).unwrap();
    println!(
        "PRAGMA quick_check (what every open cost before): {:?} ({verdict})",
        start.elapsed()
    );
    drop(c);

    let status: Vec<Duration> = (0..3)
        .map(|_| {
            let start = Instant::now();
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_labtrail"))
                .args(["status", "--store"])
                .arg(&dir)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            start.elapsed()
        })
        .collect();
    println!(
        "`labtrail status` (whole command): median {:?} of 3",
        median(status)
    );
}
