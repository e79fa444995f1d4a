//! Issue 12 (found in review): a `**` pattern over a folder holding links back into itself
//! (`ln -s . ck/a; ln -s . ck/b`) named 2^depth paths with `glob::glob`, so it never ended:
//! `labtrail run` hung on `inputs`, the worker spun for ever on a stage's `artifacts` at the
//! attempt's end, and `[archive] data` burned a core for the whole run and left its section
//! empty. Through the real binary, each now ends and finds the real file beside the links.

mod common;

use common::{Exp, Out};
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

/// `ck/x/<file>` next to two links back into `ck`, under `dir`.
fn link_loop(dir: &Path, file: &str) {
    std::fs::create_dir_all(dir.join("ck/x")).unwrap();
    std::fs::write(dir.join("ck/x").join(file), "real\n").unwrap();
    std::os::unix::fs::symlink(".", dir.join("ck/a")).unwrap();
    std::os::unix::fs::symlink(".", dir.join("ck/b")).unwrap();
}

/// `labtrail ARGS`, killed (and the test failed) if it has not ended after a generous while.
fn run_ending(exp: &Exp, args: &[&str]) -> Out {
    let mut child = exp.spawn(args);
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(120) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("`labtrail {args:?}` did not end within 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    common::finish(child)
}

fn records(exp: &Exp, kind: &str) -> Vec<Value> {
    exp.column::<String>(&format!(
        "SELECT json FROM records WHERE kind = '{kind}' ORDER BY id"
    ))
    .iter()
    .map(|j| serde_json::from_str(j).unwrap())
    .collect()
}

/// Issue 12: `inputs = ["ck/**/*.py"]` over the loop: `run --dry-run` returns and the task's
/// input is the real file beside the links.
#[test]
fn inputs_over_a_link_loop_end() {
    let exp =
        Exp::new("[experiment]\nname = \"g\"\ncommand = \"true\"\ninputs = [\"ck/**/*.py\"]\n");
    link_loop(exp.path(), "train.py");
    let out = run_ending(&exp, &["run", "exp.toml", "--dry-run"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let out = run_ending(&exp, &["run", "exp.toml", "-q"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    // The real file is an input: the task runs again once it changes.
    let before = run_ending(&exp, &["run", "exp.toml", "--dry-run"]).stdout();
    assert!(before.contains("skip"), "{before}");
    std::fs::write(exp.path().join("ck/x/train.py"), "changed\n").unwrap();
    let after = run_ending(&exp, &["run", "exp.toml", "--dry-run"]).stdout();
    assert!(!after.contains("skip"), "{after}");
}

/// Issue 12: a task that leaves the loop and one checkpoint in its folder, with
/// `artifacts = ["ck/**/*.pt"]`: the run finishes and records the checkpoint.
#[test]
fn artifacts_over_a_link_loop_end() {
    let exp = Exp::new(
        r#"
[experiment]
name = "g"
[[stage]]
name = "train"
command = "cd \"$LABTRAIL_TASK_DIR\" && mkdir -p ck/x && echo w > ck/x/m.pt && ln -s . ck/a && ln -s . ck/b"
artifacts = ["ck/**/*.pt"]
"#,
    );
    let out = run_ending(&exp, &["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let arts = records(&exp, "artifacts");
    assert_eq!(arts.len(), 1, "{arts:?}");
    let paths: Vec<&str> = arts[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["ck/x/m.pt"]);
}

/// Issue 12: `[archive] data = ["ck/**/*.txt", "ck"]` over the loop (the folder's own walk
/// followed the links too): each sealed snapshot lists the real file, whole (no `partial`).
#[test]
fn data_over_a_link_loop_ends() {
    let exp = Exp::new(
        "[experiment]\nname = \"g\"\ncommand = \"true\"\n[archive]\ndata = [\"ck/**/*.txt\", \"ck\"]\n",
    );
    link_loop(exp.path(), "d.txt");
    let out = run_ending(&exp, &["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let all = records(&exp, "provenance");
    let sealed = all.last().expect("a provenance record");
    for data in sealed["data"].as_array().unwrap() {
        assert_eq!(data["files"], 1, "{data}");
        assert_eq!(data["per_file"][0]["path"], "ck/x/d.txt", "{data}");
        assert!(data["partial"].is_null(), "{data}");
    }
    assert_eq!(sealed["data"].as_array().unwrap().len(), 2);
}

/// Issue 12: links that are no loop but double the paths at each level (`d0/l1`, `d0/l2` ->
/// `d1`, ...) make a `**` search give up at its cap: `run` refuses the entry, names it and says
/// what to do, instead of walking 2^25 paths.
#[test]
fn an_inputs_search_that_gives_up_is_an_error_naming_the_pattern() {
    let exp =
        Exp::new("[experiment]\nname = \"g\"\ncommand = \"true\"\ninputs = [\"d0/**/*.py\"]\n");
    for i in 0..25 {
        let d = exp.path().join(format!("d{i}"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("m.py"), "x").unwrap();
        if i > 0 {
            for l in ["l1", "l2"] {
                let from = exp.path().join(format!("d{}/{l}", i - 1));
                std::os::unix::fs::symlink(&d, from).unwrap();
            }
        }
    }
    let out = run_ending(&exp, &["run", "exp.toml", "--dry-run"]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    let err = out.stderr();
    assert!(
        err.contains("`inputs` entry `d0/**/*.py`") && err.contains("1000000 entries"),
        "{err}"
    );
    assert!(
        err.contains("help: start the pattern at the folder"),
        "{err}"
    );
}
