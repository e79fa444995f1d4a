//! Issue 11's smaller SLURM fixes against a real cluster: byte-identical parameter values in job
//! arrays, the monitor started from another folder, the table of SLURM states checked against
//! the real sacct, resources of a job recorded with its attempt.

mod common;
mod slurm_common;
use common::*;
use slurm_common::*;
use std::path::Path;

/// A value with every character a shell or a script generator could change.
const AWKWARD: &str =
    "line one\n\ttabbed 'single' \"double\" $HOME ${X:-y} `tick` back\\slash \\n\n  indented\n\n";

/// Runs the two-task experiment in `array` or single-job mode; returns, per task, the bytes the
/// task received through `{v}` and through `LABTRAIL_PARAM_V`.
fn received_values(array: bool) -> Vec<(String, String)> {
    let values = toml::Value::Array(vec![
        toml::Value::String(AWKWARD.into()),
        toml::Value::String("plain".into()),
    ]);
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "bytes"
command = "printf '%s' {{v}} > \"$LABTRAIL_TASK_DIR/brace.bin\"; printf '%s' \"$LABTRAIL_PARAM_V\" > \"$LABTRAIL_TASK_DIR/env.bin\"; echo '{{}}' > $LABTRAIL_RESULT"
[params]
v = {values}
{FAST}array = {array}
"#
    ));
    exp.run_ok(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(exp.count("done"), 2);
    let tasks = exp.run_dir().join("tasks");
    // Bytes read exactly; as text only so that a failure shows them readably.
    let bytes = |p: &Path| String::from_utf8(std::fs::read(p).unwrap()).expect("UTF-8");
    let mut got: Vec<(String, String)> = std::fs::read_dir(&tasks)
        .expect("task folders")
        .map(|d| {
            let d = d.unwrap().path();
            (bytes(&d.join("brace.bin")), bytes(&d.join("env.bin")))
        })
        .collect();
    got.sort();
    got
}

/// Issue 11: a job array's script indented every line of a task's variables, so a parameter
/// value with newlines gained two spaces per line in `{v}` and `LABTRAIL_PARAM_V`. Array and
/// single-job modes now pass the same bytes, which are the value's own.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn array_and_single_jobs_pass_multi_line_values_byte_for_byte() {
    require_slurm();
    let mut want = vec![
        (AWKWARD.to_string(), AWKWARD.to_string()),
        ("plain".to_string(), "plain".to_string()),
    ];
    want.sort();
    assert_eq!(received_values(false), want, "single jobs");
    assert_eq!(received_values(true), want, "a job array");
}
