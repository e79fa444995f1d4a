//! Issue 12: what an attempt leaves for the archive, through the real binary: the error of a
//! failed Python task, the artifacts of a training task, `labtrail metrics`, and a result's
//! `archive.<section>` kept intact.

mod common;

use common::Exp;
use serde_json::Value;

/// Records of `kind` in the store, read directly: (task key, document).
fn records(exp: &Exp, kind: &str) -> Vec<(String, Value)> {
    let rows: Vec<String> = exp.column(&format!(
        "SELECT task_key || char(9) || json FROM records WHERE kind = '{kind}' ORDER BY id"
    ));
    rows.iter()
        .map(|r| {
            let (k, j) = r.split_once('\t').unwrap();
            (k.to_string(), serde_json::from_str(j).unwrap())
        })
        .collect()
}

/// Issue 12: a Python task that raises leaves an `attempt_error` record per failed attempt,
/// with the exception line, the stack and the warnings; a done task leaves none.
#[test]
fn a_failing_python_task_records_its_exception() {
    let exp = Exp::new(
        r#"
[experiment]
name = "err"
command = "python3 -W always fail.py {mode}"
[params]
mode = ["raise", "ok"]
[run]
retries = 1
backoff = "0s"
"#,
    );
    exp.write(
        "fail.py",
        r#"
import sys, warnings
warnings.warn("deprecated thing", DeprecationWarning)
if sys.argv[1] == "ok":
    sys.exit(0)
def load(path):
    raise FileNotFoundError(f"no such dataset: {path}")
load("/data/train.jsonl")
"#,
    );
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let errors = records(&exp, "attempt_error");
    assert_eq!(errors.len(), 2, "one per failed attempt: {errors:?}");
    let failed = exp
        .tasks()
        .into_iter()
        .find(|t| t["state"] == "failed")
        .unwrap();
    for (n, (key, e)) in errors.iter().enumerate() {
        assert_eq!(key, failed["key"].as_str().unwrap());
        assert_eq!(e["attempt"], n as u64 + 1);
        assert_eq!(e["kind"], "exception");
        assert_eq!(
            e["line"],
            "FileNotFoundError: no such dataset: /data/train.jsonl"
        );
        let stack: Vec<&str> = e["stack"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        assert_eq!(stack[0], "Traceback (most recent call last):");
        assert!(stack.iter().any(|l| l.contains("in load")), "{stack:?}");
        assert_eq!(e["warnings"]["DeprecationWarning"], 1);
    }
    let listed = exp.run_ok(&["tasks", "--state", "failed"]).stdout();
    assert!(
        listed.contains("exit code 1: FileNotFoundError: no such dataset: /data/train.jsonl"),
        "{listed}"
    );
}

const TRAIN: &str = r#"
import json, os, time
d = os.environ["LABTRAIL_TASK_DIR"]
os.makedirs(f"{d}/ckpt", exist_ok=True)
val = {1: 0.9, 2: 0.4, 3: 0.6}
with open(os.environ["LABTRAIL_METRICS"], "a") as m:
    for step in (1, 2, 3):
        m.write(json.dumps({"step": step, "time": 100 + step, "loss": 1.0 / step, "val_loss": val[step], "lr": 0.1}) + "\n")
        with open(f"{d}/ckpt/ckpt_{step}.pt", "wb") as f:
            f.write(b"x" * (100 * step))
        time.sleep(0.02)
    m.write(json.dumps({"step": 4, "loss": float("nan")}) + "\n")
result = {"val_loss": 0.4, "archive": {"data_copy": [{"src": "s3://b/x", "files": 3, "skipped": 0}]}}
if os.environ["LABTRAIL_PARAM_NAMED"] == "yes":
    result["archive"]["best_checkpoint"] = "ckpt_3.pt"
json.dump(result, open(os.environ["LABTRAIL_RESULT"], "w"))
"#;

fn train_exp() -> Exp {
    let exp = Exp::new(
        r#"
[experiment]
name = "train"
[params]
named = ["no", "yes"]
[[stage]]
name = "train"
command = "python3 train.py"
artifacts = ["ckpt/*.pt"]
"#,
    );
    exp.write("train.py", TRAIN);
    exp.run_ok(&["run", "exp.toml", "--no-progress"]);
    exp
}

/// Issue 12: a done task's checkpoints are recorded with size, step and tags: `last` on the
/// newest, `best` at the best validation loss's step, or on the file the result names.
#[test]
fn checkpoints_are_recorded_with_last_and_best() {
    let exp = train_exp();
    let tasks = exp.tasks();
    let arts = records(&exp, "artifacts");
    assert_eq!(arts.len(), 2);
    for (key, list) in &arts {
        let task = tasks.iter().find(|t| t["key"] == key.as_str()).unwrap();
        let named = task["params"]["named"] == "yes";
        let list = list.as_array().unwrap();
        let paths: Vec<&str> = list.iter().map(|a| a["path"].as_str().unwrap()).collect();
        assert_eq!(
            paths,
            ["ckpt/ckpt_1.pt", "ckpt/ckpt_2.pt", "ckpt/ckpt_3.pt"]
        );
        assert_eq!(list[1]["bytes"], 200);
        assert_eq!(list[1]["step"], 2);
        let tags: Vec<&Value> = list.iter().map(|a| &a["tags"]).collect();
        if named {
            assert_eq!(
                tags,
                [
                    &Value::Array(vec![]),
                    &Value::Array(vec![]),
                    &serde_json::json!(["last", "best"])
                ]
            );
        } else {
            assert_eq!(
                tags,
                [
                    &Value::Array(vec![]),
                    &serde_json::json!(["best"]),
                    &serde_json::json!(["last"])
                ]
            );
        }
    }
    assert!(records(&exp, "attempt_error").is_empty());
}

/// Issue 12: a result's `archive.<section>` is stored as the task wrote it, for the archive.
#[test]
fn a_results_archive_section_is_kept() {
    let exp = train_exp();
    for t in exp.tasks() {
        assert_eq!(
            t["result"]["archive"]["data_copy"],
            serde_json::json!([{"src": "s3://b/x", "files": 3, "skipped": 0}])
        );
    }
}

/// Issue 12: `labtrail metrics` prints a task's stream as a table, CSV, JSON and JSON lines,
/// chosen keys only, and each key's summary; an ambiguous task or an unknown key is refused.
#[test]
fn metrics_in_every_format() {
    let exp = train_exp();
    let table = exp.run_ok(&["metrics", "named=no"]).stdout();
    let lines: Vec<&str> = table.lines().collect();
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(header, ["step", "time", "loss", "val_loss", "lr"]);
    assert_eq!(lines.len(), 5, "{table}");
    assert_eq!(
        lines[2].split_whitespace().collect::<Vec<_>>(),
        ["2", "102", "0.5", "0.4", "0.1"]
    );
    assert_eq!(
        lines[4].split_whitespace().collect::<Vec<_>>(),
        ["4", "NaN"]
    );

    let csv = exp
        .run_ok(&[
            "metrics", "named=no", "--format", "csv", "--key", "val_loss",
        ])
        .stdout();
    assert_eq!(csv, "step,val_loss\n1,0.9\n2,0.4\n3,0.6\n4,\n");

    let json: Value = serde_json::from_str(
        &exp.run_ok(&["metrics", "named=no", "--format", "json"])
            .stdout(),
    )
    .unwrap();
    assert_eq!(json.as_array().unwrap().len(), 4);
    assert_eq!(json[0]["val_loss"], 0.9);
    assert_eq!(json[3]["loss"], "NaN");
    let jsonl = exp
        .run_ok(&["metrics", "named=no", "--format", "jsonl", "--key", "loss"])
        .stdout();
    assert_eq!(jsonl.lines().next(), Some(r#"{"step":1,"loss":1.0}"#));

    let summary: Value = serde_json::from_str(
        &exp.run_ok(&["metrics", "named=no", "--summary", "--format", "json"])
            .stdout(),
    )
    .unwrap();
    let val = summary
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "val_loss")
        .unwrap();
    assert_eq!(
        (val["best"].as_f64(), val["best_step"].as_f64()),
        (Some(0.4), Some(2.0))
    );
    assert_eq!(val["direction"], "min");
    assert_eq!(val["steps_per_s"].as_f64(), Some(1.0));
    let loss = summary
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "loss")
        .unwrap();
    assert_eq!(
        (loss["count"].as_u64(), loss["nan_count"].as_u64()),
        (Some(4), Some(1))
    );
    let text = exp.run_ok(&["metrics", "named=no", "--summary"]).stdout();
    assert!(text.starts_with("key "), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("val_loss") && l.contains("min")),
        "{text}"
    );

    let ambiguous = exp.run(&["metrics", "train"]);
    assert_eq!(ambiguous.code(), 2);
    assert!(
        ambiguous.stderr().contains("matches 2 tasks"),
        "{}",
        ambiguous.stderr()
    );
    let unknown = exp.run(&["metrics", "named=no", "--key", "acc"]);
    assert_eq!(unknown.code(), 2);
    assert!(
        unknown
            .stderr()
            .contains("no metric `acc`; its keys: time, loss, val_loss, lr"),
        "{}",
        unknown.stderr()
    );
    let help = exp.run_ok(&["metrics", "--help"]).stdout();
    assert!(
        help.contains("labtrail metrics train/lr=0.1 --summary"),
        "{help}"
    );
}
