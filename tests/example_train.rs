//! Issue 12: the `examples/train` experiment (a toy training in pure Python that streams
//! metrics, writes checkpoints, and an eval stage that reads them) runs to the end with the
//! real binary, and is archived in every format once `labtrail archive` exists.

mod common;
mod example_fixture;

use common::Exp;
use example_fixture::{example, has_archive_command};
use std::path::PathBuf;

fn task_dir(exp: &Exp, key: &str) -> PathBuf {
    exp.run_dir().join("tasks").join(key)
}

/// Issue 12: both stages finish; each train task streamed one metric line per step (300) and
/// left its checkpoints (recorded as artifacts, `last` and `best` tagged); each eval task read its train task's last checkpoint and wrote seed
/// 004's eval block in its result.
#[test]
fn example_train_runs_to_the_end() {
    let exp = example();
    exp.run_ok(&["run", "exp.toml"]);
    let tasks = exp.tasks();
    assert_eq!(tasks.len(), 8);
    assert!(tasks.iter().all(|t| t["state"] == "done"), "{tasks:#?}");
    for t in tasks.iter().filter(|t| t["stage"] == "train") {
        let key = t["key"].as_str().unwrap();
        for step in [100, 200, 300] {
            let ckpt = task_dir(&exp, key).join(format!("checkpoints/ckpt_{step}.pt"));
            assert!(ckpt.is_file(), "{} missing", ckpt.display());
        }
        let lines: Vec<i64> = exp.column(&format!(
            "SELECT COUNT(*) FROM metrics WHERE task_key = '{key}'"
        ));
        assert_eq!(lines, [300], "one metric line per step for {key}");
        // The stage's `artifacts` patterns recorded the checkpoints, `last` and `best` tagged.
        let records: Vec<String> = exp.column(&format!(
            "SELECT json FROM records WHERE task_key = '{key}' AND kind = 'artifacts'"
        ));
        let files: Vec<serde_json::Value> = serde_json::from_str(&records[0]).unwrap();
        assert_eq!(files.len(), 3, "{files:?}");
        let tagged = |tag: &str| {
            files
                .iter()
                .filter(|f| f["tags"].as_array().unwrap().iter().any(|t| t == tag))
                .count()
        };
        assert_eq!((tagged("last"), tagged("best")), (1, 1), "{files:?}");
    }
    let out = exp.run_ok(&["results"]);
    let results: Vec<serde_json::Value> = serde_json::from_str(&out.stdout()).unwrap();
    let evals: Vec<&serde_json::Value> = results.iter().filter(|r| r["stage"] == "eval").collect();
    assert_eq!(evals.len(), 4);
    for r in evals {
        let eval = &r["result"]["archive"]["eval"];
        assert_eq!(eval["datasets"][0], "data/val.jsonl", "{r}");
        assert_eq!(eval["checkpoint"], "checkpoints/ckpt_300.pt");
        assert!(r["result"]["val_acc"].as_f64().unwrap() > 0.5, "{r}");
    }
}

/// Issue 12 ("Done when"): the example is archived in all three formats.
#[test]
fn example_train_is_archived_in_every_format() {
    let exp = example();
    exp.run_ok(&["run", "exp.toml"]);
    if !has_archive_command(&exp) {
        return;
    }
    for format in ["md", "json", "html"] {
        let path = exp.file(&format!("archive.{format}"));
        exp.run_ok(&["archive", "--format", format, "-o", path.to_str().unwrap()]);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("toy_train"), "{format}: {text}");
    }
    // The eval stage's block comes from its tasks' `archive.eval` (issue 12: it read n/a).
    let md = std::fs::read_to_string(exp.file("archive.md")).unwrap();
    assert!(
        md.contains("    datasets: [\"data/val.jsonl\"]") && md.contains("    script: \"eval.py\""),
        "{md}"
    );
    assert!(
        md.contains("| Eval context | datasets=filled, results=filled, script=filled |"),
        "{md}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(exp.file("archive.json")).unwrap()).unwrap();
    assert_eq!(json["schema"], "labtrail.archive/1");
    assert_eq!(json["tasks"].as_array().unwrap().len(), 8);
}
