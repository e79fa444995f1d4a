//! Issue 15: `task_counts` (schema 10), the tasks per run, stage, plan membership and state that
//! `status` and `list` read instead of every task, kept by triggers. After everything a user does
//! to a run (failures, retries, stages, reset, a grid edit, a SIGKILLed runner, an upgrade from
//! an older store), the counts equal a `GROUP BY` over the tasks.

mod common;

use common::{signal, wait_until, Exp};
use std::path::Path;
use std::time::Duration;

/// Two stages; `b` fails once then succeeds (a retry), `c` always fails (so `eval/c` is blocked).
const TWO_STAGES: &str = r#"
[experiment]
name = "counts"
[params]
rep = ["a", "b", "c"]
lr = [1, 2]
[run]
retries = 1
backoff = "0s"
workers = 2
[[stage]]
name = "train"
command = "sh DIR/train.sh {rep}"
[[stage]]
name = "eval"
command = "true {rep}"
"#;

const TRAIN: &str = r#"if [ "$1" = b ] && [ ! -e "$LABTRAIL_TASK_DIR/once" ]; then touch "$LABTRAIL_TASK_DIR/once"; exit 1; fi
if [ "$1" = c ]; then exit 2; fi
"#;

fn two_stages() -> Exp {
    let exp = Exp::new("");
    let toml = TWO_STAGES.replace("DIR", &exp.path().display().to_string());
    exp.write("exp.toml", &toml);
    exp.write("train.sh", TRAIN);
    exp
}

const KEPT: &str = "SELECT run_id || ' ' || stage || ' ' || in_plan || ' ' || state || ' ' || n FROM task_counts WHERE n > 0 ORDER BY 1";
const COUNTED: &str = "SELECT run_id || ' ' || stage || ' ' || in_plan || ' ' || state || ' ' || COUNT(*) FROM tasks GROUP BY run_id, stage, in_plan, state ORDER BY 1";

/// The kept counts, checked against the tasks themselves.
fn assert_exact(exp: &Exp) -> Vec<String> {
    let kept: Vec<String> = exp.column(KEPT);
    assert_eq!(kept, exp.column::<String>(COUNTED), "task_counts drifted");
    kept
}

fn status_json(exp: &Exp) -> serde_json::Value {
    serde_json::from_str(&exp.run_ok(&["status", "--json"]).stdout()).unwrap()
}

/// Issue 15: failures, a retry, a blocked stage, then a reset and a grid edit that takes tasks
/// out of the plan and brings new ones: the counts follow every change, and `status` and `list`
/// say what the tasks say.
#[test]
fn counts_follow_failures_retries_stages_reset_and_a_grid_edit() {
    let exp = two_stages();
    exp.run(&["run", "exp.toml", "--no-progress", "-q"]);
    let kept = assert_exact(&exp);
    assert!(
        kept.iter().any(|r| r.ends_with("train 1 failed 2")),
        "{kept:?}"
    );
    assert!(
        kept.iter().any(|r| r.ends_with("eval 1 blocked 2")),
        "{kept:?}"
    );
    let status = status_json(&exp);
    assert_eq!(status["counts"]["done"], 8, "{status}");
    assert_eq!(status["counts"]["failed"], 2, "{status}");
    let stages: Vec<&String> = status["stages"].as_object().unwrap().keys().collect();
    assert_eq!(stages, ["train", "eval"], "plan order");

    assert_eq!(exp.run(&["reset", "rep=a"]).code(), 0);
    assert!(assert_exact(&exp)
        .iter()
        .any(|r| r.ends_with("train 1 pending 2")));

    let toml = std::fs::read_to_string(exp.file("exp.toml")).unwrap();
    exp.write("exp.toml", &toml.replace("lr = [1, 2]", "lr = [2, 3]"));
    exp.run(&["run", "exp.toml", "--no-progress", "-q"]);
    let kept = assert_exact(&exp);
    assert!(
        kept.iter().any(|r| r.contains(" 0 ")),
        "tasks left the plan: {kept:?}"
    );
    let status = status_json(&exp);
    assert_eq!(status["counts"]["total"], 12, "{status}");
    let list: serde_json::Value =
        serde_json::from_str(&exp.run_ok(&["list", "--json"]).stdout()).unwrap();
    assert_eq!(list[0]["total"], 12, "{list}");
    assert_eq!(list[0]["done"], status["counts"]["done"], "{list}");
}

/// Issue 15: a runner SIGKILLed while its tasks run leaves them `running` in the store: the
/// counts say so, `status` shows them interrupted (its runner is gone), and the next run's
/// recovery moves the counts on with the rows.
#[test]
fn counts_survive_a_sigkilled_runner() {
    let exp = Exp::new(
        "[experiment]\nname = \"kill\"\ncommand = \"sleep {s}\"\n[params]\ns = [30, 31, 32]\n[run]\nworkers = 2\n",
    );
    let runner = exp.spawn(&["run", "exp.toml", "--no-progress", "-q"]);
    wait_until("two tasks running", Duration::from_secs(60), || {
        exp.column_once_made::<i64>(
            "SELECT COUNT(*) FROM tasks WHERE state = 'running' AND seq >= 0",
        ) == [2]
    });
    signal(&runner, libc::SIGKILL);
    common::finish(runner);
    assert!(assert_exact(&exp)
        .iter()
        .any(|r| r.ends_with("main 1 running 2")));
    let status = status_json(&exp);
    assert_eq!(status["counts"]["interrupted"], 2, "{status}");
    let edited = std::fs::read_to_string(exp.file("exp.toml"))
        .unwrap()
        .replace("sleep {s}", "true {s}");
    exp.write("exp.toml", &edited);
    exp.run(&["run", "exp.toml", "--no-progress", "-q"]);
    assert_exact(&exp);
}

/// Each run's parameter summary (schema 10): name, first position, values, in plan order.
const SUMMARY_KEPT: &str = "SELECT p.run_id || ' ' || json_extract(j.value, '$.name') || ' ' || json_extract(j.value, '$.first[0]') || ' ' || json_extract(j.value, '$.values') FROM param_summaries p, json_each(p.params) j ORDER BY p.run_id, j.key";
/// The same, from the tasks of each run's plan (small grids: a task's parameters are < 1000
/// JSON nodes, and their values' texts are distinct where SQL's values are).
const SUMMARY_COUNTED: &str = "SELECT t.run_id || ' ' || j.key || ' ' || MIN(t.seq) || ' ' || MIN(COUNT(DISTINCT j.value), 21) FROM tasks t, json_each(t.params) j WHERE t.in_plan = 1 GROUP BY t.run_id, j.key ORDER BY t.run_id, MIN(t.seq * 1000 + j.id)";

/// An experiment folder holding a copy of the store in tests/fixtures/`fixture`, as made by an
/// older labtrail (see each fixture's README.md).
fn from_fixture(fixture: &str) -> Exp {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(fixture);
    let exp = Exp::new(&std::fs::read_to_string(dir.join("exp.toml")).unwrap());
    std::fs::create_dir_all(exp.file(".labtrail")).unwrap();
    std::fs::copy(dir.join("labtrail.db"), exp.file(".labtrail/labtrail.db")).unwrap();
    exp
}

/// Issue 15: a store made by labtrail 0.9.0 (schema 8; see tests/fixtures/v8_store) and one
/// made by 0.10.0 (schema 9; tests/fixtures/v9_store) are upgraded to schema 10 in place with
/// counts equal to their tasks' and each run's parameter summary made from its tasks, and a
/// read-only `status` of the old file (upgraded in memory)
/// says what the upgraded store says.
#[test]
fn stores_of_schema_8_and_9_upgrade_with_exact_counts() {
    for fixture in ["v8_store", "v9_store"] {
        let exp = from_fixture(fixture);
        let before = exp.run_ok(&["status", "--json"]).stdout();
        drop(labtrail::store::Store::open(&exp.file(".labtrail"), false).unwrap());
        let version: Vec<u32> = exp.column("SELECT user_version FROM pragma_user_version");
        assert_eq!(
            version,
            [labtrail::store::schema::CURRENT_VERSION],
            "{fixture}"
        );
        assert!(!assert_exact(&exp).is_empty(), "{fixture}");
        let kept: Vec<String> = exp.column(SUMMARY_KEPT);
        assert!(
            !kept.is_empty(),
            "{fixture}: the upgrade wrote parameter summaries"
        );
        assert_eq!(kept, exp.column::<String>(SUMMARY_COUNTED), "{fixture}");
        assert_eq!(
            exp.run_ok(&["status", "--json"]).stdout(),
            before,
            "{fixture}"
        );
    }
}

/// Issue 15 (a review of schema 10): `check --repair` of a healthy store made by 0.9.0 or
/// 0.10.0 said it was healthy and asked before rebuilding it; the health check then queried
/// schema 10's tables on the file as it is, failed, and the store was rebuilt without a word.
#[test]
fn a_healthy_store_of_an_older_schema_is_not_rebuilt_unasked() {
    for fixture in ["v8_store", "v9_store"] {
        let exp = from_fixture(fixture);
        let out = exp.run(&["check", "--repair"]);
        assert_eq!(out.code(), 2, "{fixture}: {}", out.stderr());
        assert!(
            out.stderr().contains("is healthy") && out.stderr().contains("--yes"),
            "{fixture}: {}",
            out.stderr()
        );
    }
}

/// Issue 15: counts that differ from the tasks (a store edited by hand, a bug) are a problem
/// `labtrail check` names, with the figures.
#[test]
fn check_names_counts_that_drifted() {
    let exp = Exp::new(
        "[experiment]\nname = \"drift\"\ncommand = \"true {i}\"\n[params]\ni = [1, 2, 3]\n",
    );
    exp.run_ok(&["run", "exp.toml", "--no-progress", "-q"]);
    let db = rusqlite::Connection::open(exp.file(".labtrail/labtrail.db")).unwrap();
    db.execute("UPDATE task_counts SET n = n + 1", []).unwrap();
    drop(db);
    let out = exp.run(&["check"]);
    let said = format!("{}{}", out.stdout(), out.stderr());
    assert_ne!(out.code(), 0, "{said}");
    assert!(said.contains("task counts of run drift"), "{said}");
    assert!(
        said.contains("stage main, state done: kept 4, counted 3"),
        "{said}"
    );
}
