//! Helpers for the tests of `labtrail check` against the run folders.
#![allow(dead_code)]

use crate::common::*;
use serde_json::Value;

/// `labtrail check --json`, parsed, and its exit code.
pub fn check_json(exp: &Exp, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["check", "--json"];
    args.extend_from_slice(extra);
    let out = exp.run(&args);
    let json = serde_json::from_str(&out.stdout())
        .unwrap_or_else(|e| panic!("check --json: {e}: {}{}", out.stdout(), out.stderr()));
    (out.code(), json)
}

/// The findings of kind `kind`.
pub fn findings(report: &Value, kind: &str) -> Vec<Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == kind)
        .cloned()
        .collect()
}

/// A task that fails until the file `go` exists, and one that always succeeds.
pub fn gated() -> Exp {
    gated_tasks(r#"["ok", "gate"]"#)
}

/// The tasks `xs` (a TOML list): `gate` fails until the file `go` exists, the others succeed.
/// Each keeps a file in its folder (`LABTRAIL_TASK_DIR`), so that the folder stays (a task
/// that keeps nothing there leaves no folder, issue 15).
pub fn gated_tasks(xs: &str) -> Exp {
    Exp::new(&format!(
        r#"
[experiment]
name = "chk"
command = "touch $LABTRAIL_TASK_DIR/kept; test {{x}} != gate || test -e go || exit 3; echo '{{\"ok\": 1}}' > $LABTRAIL_RESULT"
[params]
x = {xs}
"#
    ))
}

pub fn key(exp: &Exp, x: &str) -> String {
    exp.tasks().iter().find(|t| t["params"]["x"] == x).unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string()
}
