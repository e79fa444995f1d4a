//! The task protocol (environment, result, metrics, task folder), shell quoting, stages,
//! time limits and retries, and the result formats.

mod common;
use common::*;

/// Parameter values are one literal shell word each, whatever they contain.
#[test]
fn hostile_parameter_values_stay_literal() {
    let exp = Exp::new(
        r#"
[experiment]
name = "quote"
command = "printf '%s\n' {v} > out_$LABTRAIL_TASK_KEY.txt"
[params]
v = ["x; touch pwned", "$(touch pwned2)", "it's `touch pwned3`", "a b  c", "--flag=\"q\""]
"#,
    );
    let out = exp.run(&["run", "exp.toml", "-q"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    for f in ["pwned", "pwned2", "pwned3"] {
        assert!(
            !exp.file(f).exists(),
            "a value was executed as shell code ({f})"
        );
    }
    let mut written: Vec<String> = std::fs::read_dir(exp.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("out_"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    written.sort();
    assert_eq!(
        written,
        [
            "$(touch pwned2)\n",
            "--flag=\"q\"\n",
            "a b  c\n",
            "it's `touch pwned3`\n",
            "x; touch pwned\n"
        ],
        "each value arrives as one argument"
    );
}

/// Every protocol variable is set; the result and metrics are stored; the task folder persists
/// across attempts.
#[test]
fn protocol_variables_results_metrics_and_task_dir() {
    let exp = Exp::new(
        r#"
[experiment]
name = "proto"
command = "sh ../task.sh"
workdir = "sub"
env = { MODEL = "net-{size}" }
[params]
size = [8]
[run]
retries = 1
backoff = "0s"
"#,
    );
    std::fs::create_dir(exp.file("sub")).unwrap();
    exp.write(
        "task.sh",
        r#"
env | grep -E '^(LABTRAIL_|MODEL=)' | sort > "$LABTRAIL_TASK_DIR/env-$LABTRAIL_ATTEMPT.txt"
pwd > "$LABTRAIL_TASK_DIR/pwd.txt"
echo '{"step": 1, "loss": 0.5}' >> "$LABTRAIL_METRICS"
echo 'not json' >> "$LABTRAIL_METRICS"
echo '{"step": 2, "loss": 0.25}' >> "$LABTRAIL_METRICS"
if [ ! -e "$LABTRAIL_TASK_DIR/checkpoint" ]; then touch "$LABTRAIL_TASK_DIR/checkpoint"; exit 1; fi
echo '{"acc": 0.9, "nested": {"a": [1, 2]}}' > "$LABTRAIL_RESULT"
"#,
    );
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(
        out.code(),
        0,
        "second attempt succeeds from the checkpoint: {}",
        out.stderr()
    );
    let task = &exp.tasks()[0];
    assert_eq!(task["attempts"], 2);
    assert_eq!(task["result"]["acc"], 0.9);
    let key = task["key"].as_str().unwrap();
    let work = exp.file(&format!(
        ".labtrail/runs/{}/tasks/{key}",
        exp.run(&["list", "--json"])
            .stdout()
            .split('"')
            .nth(3)
            .unwrap()
    ));
    let env = std::fs::read_to_string(work.join("env-2.txt")).unwrap();
    for var in [
        "LABTRAIL_ATTEMPT=2",
        "LABTRAIL_PARAM_SIZE=8",
        "MODEL=net-8",
        &format!("LABTRAIL_TASK_KEY={key}"),
        "LABTRAIL_RUN_ID=proto-",
        "LABTRAIL_RESULT=",
        "LABTRAIL_METRICS=",
        "LABTRAIL_TASK_DIR=",
    ] {
        assert!(env.contains(var), "{var} missing from {env}");
    }
    assert!(
        work.join("env-1.txt").exists(),
        "the task folder persists across attempts"
    );
    assert!(
        std::fs::read_to_string(work.join("pwd.txt"))
            .unwrap()
            .trim()
            .ends_with("/sub"),
        "workdir is relative to the experiment file"
    );
    let metrics: Vec<String> =
        exp.column("SELECT record FROM metrics WHERE attempt = 2 ORDER BY line");
    assert_eq!(
        metrics,
        [r#"{"step":1,"loss":0.5}"#, r#"{"step":2,"loss":0.25}"#],
        "valid metric lines are stored"
    );
    let cpu: Vec<Option<f64>> = exp.column("SELECT user_cpu_s FROM attempts WHERE number = 2");
    assert!(cpu[0].is_some(), "resource usage is recorded");
    // Issue 12: a shell smaller than the runner has no peak of its own from wait4: unknown.
    let rss: Vec<Option<i64>> = exp.column("SELECT max_rss_kb FROM attempts WHERE number = 2");
    assert_eq!(rss[0], None, "wait4 gave the runner's peak");

    let csv = exp.run(&["results", "--format", "csv"]).stdout();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("key,stage,size,acc,nested"));
    assert_eq!(
        lines.next().unwrap(),
        format!(r#"{key},main,8,0.9,"{{""a"":[1,2]}}""#)
    );
}

/// A result file that is not JSON fails the attempt with a clear reason.
#[test]
fn invalid_result_json_fails_the_task() {
    let exp = Exp::new(
        r#"
[experiment]
name = "badjson"
command = "echo '{oops' > $LABTRAIL_RESULT"
"#,
    );
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 1);
    assert!(
        out.stderr().contains("is not valid JSON"),
        "{}",
        out.stderr()
    );
}

/// Issue 9: Python's `json` writes `NaN` and `Infinity` by default. A real Python task's result
/// and metrics with them are stored, read back as the strings `"NaN"`, `"Infinity"`,
/// `"-Infinity"` in `results --format json` (standard JSON, which jq reads) and as their names
/// in CSV.
#[test]
fn python_nan_and_infinity_are_stored_and_read_back() {
    let exp = Exp::new(
        r#"
[experiment]
name = "nan"
command = "python3 task.py"
"#,
    );
    exp.write(
        "task.py",
        r#"
import json, os
nan, inf = float("nan"), float("inf")
with open(os.environ["LABTRAIL_METRICS"], "a") as m:
    for step, loss in [(1, 0.5), (2, nan)]:
        m.write(json.dumps({"step": step, "loss": loss}) + "\n")
json.dump({"loss": nan, "best": -inf, "worst": inf, "name": "NaN run"}, open(os.environ["LABTRAIL_RESULT"], "w"))
"#,
    );
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());

    let json = exp.run(&["results", "--format", "json"]).stdout();
    let records: serde_json::Value = serde_json::from_str(&json).expect("standard JSON");
    assert_eq!(
        records[0]["result"],
        serde_json::json!({"loss": "NaN", "best": "-Infinity", "worst": "Infinity", "name": "NaN run"})
    );
    let jsonl = exp.run(&["results", "--format", "jsonl"]).stdout();
    assert!(
        jsonl.contains(r#""loss":"NaN","best":"-Infinity""#),
        "{jsonl}"
    );
    let csv = exp.run(&["results", "--format", "csv"]).stdout();
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .ends_with(",NaN,-Infinity,Infinity,NaN run"),
        "{csv}"
    );
    let metrics: Vec<String> = exp.column("SELECT record FROM metrics ORDER BY line");
    assert_eq!(
        metrics,
        [r#"{"step":1,"loss":0.5}"#, r#"{"step":2,"loss":"NaN"}"#]
    );
}

/// Issue 9: one metrics line that is not JSON or not UTF-8 no longer drops the attempt's
/// metrics: it is skipped, the skipped lines are counted in a warning (printed, and in the
/// event log) that names the file and the first bad line, and every other line is kept.
#[test]
fn bad_metrics_lines_are_skipped_with_a_counted_warning() {
    let exp = Exp::new(
        r#"
[experiment]
name = "badline"
command = "printf '{\"step\": 1}\\n\\377\\376\\n{\"step\": 2}\\n{oops\\n{\"step\": 3}\\n' > $LABTRAIL_METRICS"
"#,
    );
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let err = out.stderr();
    assert!(
        err.contains("2 metrics lines skipped in ") && err.contains("line 2: not valid UTF-8"),
        "{err}"
    );
    let metrics: Vec<String> = exp.column("SELECT record FROM metrics ORDER BY line");
    assert_eq!(metrics, [r#"{"step":1}"#, r#"{"step":2}"#, r#"{"step":3}"#]);
    let events = exp.run(&["events"]).stdout();
    assert!(
        events.contains("2 metrics lines skipped in ") && events.contains(".metrics.jsonl: line 2"),
        "{events}"
    );
}

/// A deeply nested result (as deep as the JSON parser allows) is stored whole: the worker
/// threads that read results have the stack for it.
#[test]
fn a_deeply_nested_result_is_stored() {
    let exp = Exp::new(
        r#"
[experiment]
name = "deep"
command = "python3 -c \"import json, os; v = 1\nfor _ in range(120): v = [v]\njson.dump(v, open(os.environ['LABTRAIL_RESULT'], 'w'))\""
"#,
    );
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let results = exp.run(&["results", "--format", "jsonl"]).stdout();
    assert!(
        results.contains(&format!("{}1{}", "[".repeat(120), "]".repeat(120))),
        "{results}"
    );
}

/// A failed upstream task blocks (does not fail) its downstream tasks; they run once it is fixed.
#[test]
fn failed_upstream_blocks_downstream_until_fixed() {
    let exp = Exp::new(
        r#"
[experiment]
name = "staged"
[params]
layers = ["a", "b"]
rep = ["x", "y"]
[[stage]]
name = "prepare"
params = ["layers"]
command = "[ {layers} != b ] || [ -e fixed ]"
[[stage]]
name = "train"
command = "echo {layers}-{rep} >> ledger.txt"
[[stage]]
name = "report"
params = []
command = "echo report >> ledger.txt"
"#,
    );
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let tasks = exp.tasks();
    let state = |label: &str| {
        tasks.iter().find(|t| t["label"] == label).unwrap()["state"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(state("prepare/layers=b"), "failed");
    assert_eq!(state("train/layers=b,rep=x"), "blocked");
    assert_eq!(
        state("report"),
        "blocked",
        "fan-in waits for every train task"
    );
    assert_eq!(state("train/layers=a,rep=y"), "done");
    let status = exp.run(&["status"]).stdout();
    assert!(status.contains("stage train"), "{status}");

    exp.write("fixed", "");
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let ledger = exp.ledger("ledger.txt");
    assert_eq!(ledger.len(), 5, "{ledger:?}");
    assert_eq!(
        ledger.last().map(String::as_str),
        Some("report"),
        "the fan-in stage ran last"
    );
}

/// A task over its time limit is stopped and retried, then fails; the history says timeout.
#[test]
fn timeout_is_retried_then_fails() {
    let exp = Exp::new(
        r#"
[experiment]
name = "slow"
command = "sleep 20"
[run]
timeout = "300ms"
retries = 1
backoff = "0s"
grace = "1s"
"#,
    );
    let t0 = std::time::Instant::now();
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert!(t0.elapsed() < std::time::Duration::from_secs(10));
    assert!(
        out.stderr().contains("time limit reached"),
        "{}",
        out.stderr()
    );
    let attempts: Vec<serde_json::Value> =
        serde_json::from_str(&exp.run(&["tasks", "main", "--attempts", "--json"]).stdout())
            .unwrap();
    assert_eq!(attempts.len(), 2);
    assert!(attempts
        .iter()
        .all(|a| a["attempt"]["outcome"] == "timeout"));
}

/// A run begun by labtrail 0.1 (folder layout 1) kept each task's own files in
/// `tasks/KEY/work/` and its attempts in `tasks/KEY/attempt-N/`. Resumed by this version, its tasks
/// keep that folder, so they find their checkpoints, and an attempt folder a 0.1 runner left
/// unrecorded still counts as a started attempt.
#[test]
fn a_resumed_layout_1_run_keeps_its_task_folders() {
    let exp = Exp::new(
        r#"
[experiment]
name = "legacy"
command = "test -e go || exit 3; echo $LABTRAIL_ATTEMPT > $LABTRAIL_TASK_DIR/marker"
[params]
x = [1]
"#,
    );
    assert_eq!(exp.run(&["run", "exp.toml", "-q"]).code(), 1);
    let key = exp.tasks()[0]["key"].as_str().unwrap().to_string();
    let run_dir = exp.run_dir();
    let db = rusqlite::Connection::open(exp.file(".labtrail/labtrail.db")).unwrap();
    db.execute("UPDATE runs SET layout = 1", []).unwrap();
    drop(db);
    let task = run_dir.join("tasks").join(&key);
    std::fs::create_dir_all(task.join("attempt-2")).unwrap();
    exp.write("go", "");
    let out = exp.run(&["run", "exp.toml", "-q"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_eq!(
        std::fs::read_to_string(task.join("work/marker")).unwrap(),
        "3\n",
        "attempt 2 was started by the 0.1 runner; this is attempt 3, in work/"
    );
    let attempts = exp.attempts("x=1");
    assert_eq!(attempts.len(), 3, "{attempts:?}");
    assert_eq!(attempts[1]["outcome"], "interrupted");
}

/// The task's folder is the task's own: a `work/` the task makes in it is just one of its files.
#[test]
fn a_task_folder_is_the_tasks_own() {
    let exp = Exp::new(
        r#"
[experiment]
name = "own"
command = "mkdir -p $LABTRAIL_TASK_DIR/work; test -e go || exit 3; echo $LABTRAIL_ATTEMPT > $LABTRAIL_TASK_DIR/marker"
[params]
x = [1]
"#,
    );
    assert_eq!(exp.run(&["run", "exp.toml", "-q"]).code(), 1);
    exp.write("go", "");
    assert_eq!(exp.run(&["run", "exp.toml", "-q"]).code(), 0);
    let key = exp.tasks()[0]["key"].as_str().unwrap().to_string();
    let run_dir = exp.run_dir();
    let own = run_dir.join("tasks").join(&key);
    assert_eq!(std::fs::read_to_string(own.join("marker")).unwrap(), "2\n");
    let entries: Vec<_> = std::fs::read_dir(&own)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(entries.len(), 2, "only the task's files: {entries:?}");
}

/// A task that runs for long holds back no other: the worker running it takes no next task,
/// so the other workers run every task queued behind it.
#[test]
fn a_long_task_does_not_hold_back_the_tasks_behind_it() {
    let exp = Exp::new(
        r#"
[experiment]
name = "long"
command = "if [ {i} = 0 ]; then while [ ! -e release ]; do sleep 0.05; done; else echo {i} >> ledger.txt; fi"
[params]
i = [0, 1, 2, 3, 4, 5, 6]
[run]
workers = 2
"#,
    );
    let runner = exp.spawn(&["run", "exp.toml", "--no-progress"]);
    wait_until(
        "the six short tasks to finish beside the long one",
        std::time::Duration::from_secs(30),
        || exp.ledger("ledger.txt").len() == 6,
    );
    exp.write("release", "");
    let out = finish(runner);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_eq!(exp.count("done"), 7);
}
