//! Issue 15, a small store (schema 9): what a trivial task leaves in the database, the event
//! log that attempts say instead of rows, the migration of a store made by labtrail 0.9.0
//! (schema 8), and the bytes per task, measured with dbstat.

mod common;

use common::Exp;
use std::collections::BTreeMap;
use std::path::Path;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/v8_store");

fn grid(n: usize) -> String {
    format!(
        "[experiment]\nname = \"size\"\ncommand = \"true {{i}}\"\n[params]\ni = {{ range = [0, {n}] }}\n"
    )
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(Path::new(FIXTURE).join(name)).expect("fixture")
}

/// An experiment folder holding a copy of the store labtrail 0.9.0 made of `exp.toml` (retries,
/// failures, a task killed by SIGKILL; see tests/fixtures/v8_store).
fn v8_copy() -> Exp {
    let exp = Exp::new(&fixture("exp.toml"));
    std::fs::create_dir_all(exp.file(".labtrail")).unwrap();
    std::fs::copy(
        Path::new(FIXTURE).join("labtrail.db"),
        exp.file(".labtrail/labtrail.db"),
    )
    .unwrap();
    exp
}

/// An event line with what differs between two runs of one experiment (times, pids) masked.
fn masked(line: &str) -> String {
    let mut cells: Vec<&str> = line.split_whitespace().collect();
    if !cells.is_empty() {
        cells[0] = "AT";
    }
    let text = cells.join(" ");
    match text.find(", pid ") {
        Some(i) => format!("{}, pid N", &text[..i]),
        None => text,
    }
}

/// Issue 15: a trivial task writes its attempt and nothing else: no `started` or `finished`
/// event row, no `task_resources` record, its default log names stored empty; yet `events`,
/// `tasks --attempts` and `logs` say what they said.
#[test]
fn a_trivial_task_writes_only_its_rows() {
    let exp = Exp::new(&grid(20));
    exp.run_ok(&["run", "-q", "--no-progress", "-j2", "exp.toml"]);
    let kinds: Vec<String> = exp.column("SELECT DISTINCT kind FROM events ORDER BY kind");
    assert_eq!(kinds, ["plan_synced", "run_created"]);
    let resources: Vec<i64> =
        exp.column("SELECT COUNT(*) FROM records WHERE kind = 'task_resources'");
    assert_eq!(resources, [0]);
    let logs: Vec<String> =
        exp.column("SELECT DISTINCT stdout_path || '|' || stderr_path FROM attempts");
    assert_eq!(logs, ["|"], "default log names are stored empty");

    let out = exp.run_ok(&["events", "--json"]);
    let events: Vec<serde_json::Value> = serde_json::from_str(&out.stdout()).unwrap();
    let ids: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert_eq!(
        ids,
        (1..=42).collect::<Vec<_>>(),
        "every line, once, in order"
    );
    let count = |kind: &str| events.iter().filter(|e| e["kind"] == kind).count();
    assert_eq!((count("started"), count("finished")), (20, 20));
    let pids: Vec<i64> = exp.column("SELECT pid FROM attempts ORDER BY started_event");
    let started: Vec<&serde_json::Value> =
        events.iter().filter(|e| e["kind"] == "started").collect();
    for (e, pid) in started.iter().zip(&pids) {
        assert_eq!(e["detail"], format!("attempt 1, pid {pid}"));
    }
    assert!(events
        .iter()
        .filter(|e| e["kind"] == "finished")
        .all(|e| e["detail"] == "attempt 1: success -> done"));

    let attempts = exp.attempts("i=3");
    let run = exp.run_dir();
    let key = exp.tasks()[3]["key"].as_str().unwrap().to_string();
    let want = run.join(format!("attempts/{key}-1.stdout.log"));
    assert_eq!(attempts.len(), 1);
    let shown = exp
        .run_ok(&["tasks", "i=3", "--attempts", "--json"])
        .stdout();
    assert!(shown.contains(&want.display().to_string()), "{shown}");
}

/// Issue 15: the log of a run with retries, failures and a task killed by a signal has the lines
/// labtrail 0.9.0 wrote for the same experiment (times and pids aside), ids without a gap.
#[test]
fn events_of_retries_failures_and_kills_read_as_before() {
    let exp = Exp::new(&fixture("exp.toml"));
    exp.run(&["run", "-q", "--no-progress", "-j1", "exp.toml"]);
    let now = exp.run_ok(&["events"]).stdout();
    let before = fixture("events.txt");
    let sorted = |text: &str| {
        let mut lines: Vec<String> = text.lines().skip(3).map(masked).collect();
        lines.sort();
        lines
    };
    assert_eq!(sorted(&now), sorted(&before), "{now}");
    let rows: Vec<String> = exp.column("SELECT kind FROM events WHERE kind = 'finished'");
    assert_eq!(rows.len(), 5, "the unusual ends are still rows");
    let json: Vec<serde_json::Value> =
        serde_json::from_str(&exp.run_ok(&["events", "--json"]).stdout()).unwrap();
    let ids: Vec<i64> = json.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, (1..=18).collect::<Vec<_>>());
}

/// Issue 15: a store made by labtrail 0.9.0 (schema 8) is brought to schema 9 and reads exactly
/// as 0.9.0 read it: `events` (text and JSON), `tasks --json`, `results`.
#[test]
fn a_v8_store_migrates_and_reads_the_same() {
    let exp = v8_copy();
    let dir = exp.path().display().to_string();
    // A write (a retry of the failed tasks) migrates it; read it before and after.
    for pass in ["before", "after"] {
        let text = exp.run_ok(&["events"]).stdout();
        match pass {
            "before" => assert_eq!(text, fixture("events.txt")),
            _ => assert!(text.starts_with(&fixture("events.txt")), "{text}"),
        }
        let json = exp.run_ok(&["events", "--json"]).stdout();
        if pass == "before" {
            assert_eq!(json, fixture("events.json"));
            assert_eq!(
                exp.run_ok(&["tasks", "--json"])
                    .stdout()
                    .replace(&dir, "{DIR}"),
                fixture("tasks.json")
            );
            assert_eq!(
                exp.run_ok(&["results", "--format", "csv"]).stdout(),
                fixture("results.csv")
            );
            exp.run(&["run", "-q", "--no-progress", "-j1", "exp.toml"]);
        } else {
            assert!(json.starts_with(fixture("events.json").trim_end_matches("\n]\n")));
        }
    }
    let version: Vec<i64> = exp.column("PRAGMA user_version");
    assert_eq!(version, [labtrail::store::schema::CURRENT_VERSION as i64]);
    let indexes: Vec<String> =
        exp.column("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tasks'");
    assert!(
        indexes.contains(&"tasks_not_done".to_string()),
        "{indexes:?}"
    );
}

/// Issue 15: bytes of database per trivial task over 2,000 tasks, by table and index (dbstat),
/// printed; the bound is generous (the figure is about 300 B, the goal of the issue).
#[test]
fn bytes_per_trivial_task() {
    let n = 2000;
    let exp = Exp::new(&grid(n));
    exp.run_ok(&["run", "-q", "--no-progress", "-j2", "exp.toml"]);
    let db = rusqlite::Connection::open(exp.file(".labtrail/labtrail.db")).unwrap();
    db.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;")
        .unwrap();
    let mut st = db
        .prepare("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")
        .unwrap();
    let by_name: BTreeMap<String, i64> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let total: i64 = by_name.values().sum();
    for (name, bytes) in &by_name {
        println!("{name:<28} {:>8.1} B/task", *bytes as f64 / n as f64);
    }
    let per_task = total as f64 / n as f64;
    println!("{:<28} {per_task:>8.1} B/task", "total");
    assert!(per_task < 400.0, "{per_task} B per task: {by_name:?}");
}
