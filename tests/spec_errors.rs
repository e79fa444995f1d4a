//! Bad experiment files: `labtrail run FILE` must exit with code 2 and point at the line that is
//! wrong (`FILE:LINE:COL:`) with a message that says what is wrong.

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// Writes `text` as `exp.toml` in a fresh temp dir; returns the dir (kept alive) and the path.
fn write_spec(text: &str) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("exp.toml");
    std::fs::write(&path, text).expect("write experiment file");
    (dir, path)
}

/// 1-based number of the only line of `text` that contains `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    let hits: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "test bug: `{needle}` must occur on exactly one line of:\n{text}"
    );
    hits[0]
}

/// 1-based line number of the `nth` (0-based) line of `text` that contains `needle`.
fn nth_line_of(text: &str, needle: &str, nth: usize) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
        .nth(nth)
        .unwrap_or_else(|| panic!("test bug: no occurrence {nth} of `{needle}`"))
}

/// Runs `labtrail run PATH` with the store inside `dir` and returns stderr; asserts exit code 2.
fn run_expect_2(dir: &Path, path: &Path) -> String {
    let out = Command::cargo_bin("labtrail")
        .expect("binary")
        .current_dir(dir)
        .arg("--no-progress")
        .arg("run")
        .arg(path)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .expect("run labtrail");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(2),
        "expected exit code 2\nstdout:\n{}\nstderr:\n{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

/// Asserts `labtrail run` fails with code 2, names `FILE:LINE:`, and mentions each of `needles`.
/// Returns stderr for further checks.
fn assert_spec_error(text: &str, line: usize, needles: &[&str]) -> String {
    let (dir, path) = write_spec(text);
    let stderr = run_expect_2(dir.path(), &path);
    let place = format!("{}:{line}:", path.display());
    assert!(
        stderr.contains(&place),
        "stderr should point at `{place}`, got:\n{stderr}"
    );
    for n in needles {
        assert!(
            stderr.contains(n),
            "stderr should mention `{n}`, got:\n{stderr}"
        );
    }
    // Validation happens before anything is written: no run, no store.
    assert!(
        !dir.path().join(".labtrail").join("runs").exists(),
        "a bad experiment file must not start a run"
    );
    stderr
}

#[test]
fn unknown_key_in_run_table() {
    let text = r#"[experiment]
name = "t"
command = "echo {rep}"

[params]
rep = [1, 2]

[run]
retries = 1
wokers = 2
"#;
    let line = line_of(text, "wokers");
    assert_eq!(line, 10);
    assert_spec_error(text, line, &["unknown field `wokers`", "`workers`"]);
}

#[test]
fn unknown_top_level_table() {
    let text = r#"[experiment]
name = "t"
command = "echo {rep}"

[params]
rep = [1, 2]

[runn]
workers = 2
"#;
    let line = line_of(text, "[runn]");
    assert_spec_error(text, line, &["unknown field `runn`", "`params`", "`run`"]);
}

#[test]
fn empty_parameter_list() {
    let text = r#"[experiment]
name = "t"
command = "echo {rep} {seed}"

[params]
seed = [1, 2]
rep = []
"#;
    let line = line_of(text, "rep = []");
    assert_eq!(line, 7);
    assert_spec_error(text, line, &["`rep`", "no values"]);
}

/// Both would reach the task as LABTRAIL_PARAM_LR (found reviewing the runner's environment).
#[test]
fn parameter_names_that_differ_only_in_case() {
    let text = r#"[experiment]
name = "t"
command = "echo {lr} {LR}"

[params]
lr = [1, 2]
LR = [3]
"#;
    let line = line_of(text, "LR = [3]");
    assert_spec_error(
        text,
        line,
        &["`lr` and `LR`", "LABTRAIL_PARAM_LR", "rename"],
    );
}

#[test]
fn unknown_placeholder_in_command() {
    let text = r#"[experiment]
name = "t"
description = "placeholder typo"
command = "python3 train.py --rep {reps} --seed {seed}"

[params]
rep = ["a", "b"]
seed = [1]
"#;
    let line = line_of(text, "{reps}");
    let stderr = assert_spec_error(text, line, &["unknown placeholder {reps}", "rep, seed"]);
    // The column points at the placeholder itself.
    let col = text.lines().nth(line - 1).unwrap().find("{reps}").unwrap() + 1;
    assert!(
        stderr.contains(&format!(":{line}:{col}:")),
        "column should be {col}:\n{stderr}"
    );
}

#[test]
fn unknown_placeholder_in_multiline_command() {
    // Long commands are often written as multi-line strings; the error must still name the
    // line the placeholder is on, not a line computed from the string's start.
    let text = r#"[experiment]
name = "t"
command = '''
python3 train.py --note {{reps}}
  --rep {reps}
  --seed {seed}
'''

[params]
rep = ["a", "b"]
seed = [1]
"#;
    let line = line_of(text, "--rep {reps}");
    assert_eq!(line, 5);
    // Column 9: after `  --rep `, not the literal `{{reps}}` on the line above.
    assert_spec_error(text, line, &[":5:9:", "unknown placeholder {reps}"]);
}

#[test]
fn unknown_placeholder_after_escapes() {
    // Escapes make the string value shorter than its source text; the column must still be
    // the placeholder's.
    let text = r#"[experiment]
name = "t"
command = "echo \"x\" \t {reps}"

[params]
rep = ["a"]
"#;
    let line = line_of(text, "{reps}");
    let col = text.lines().nth(line - 1).unwrap().find("{reps}").unwrap() + 1;
    assert_spec_error(
        text,
        line,
        &[&format!(":{line}:{col}:"), "unknown placeholder {reps}"],
    );
}

#[test]
fn unknown_placeholder_in_stage_env() {
    let text = r#"[experiment]
name = "t"

[params]
rep = ["a", "b"]

[[stage]]
name = "train"
command = "echo {rep}"
env = { SEED = "{sed}" }
"#;
    let line = line_of(text, "{sed}");
    assert_spec_error(text, line, &["unknown placeholder {sed}", "env.SEED"]);
}

#[test]
fn duplicate_parameter_name() {
    let text = r#"[experiment]
name = "t"
command = "echo {lr}"

[params]
lr = [0.1, 0.01]
seed = [1, 2]
lr = [0.5]
"#;
    let line = nth_line_of(text, "lr = ", 1);
    assert_eq!(line, 8);
    assert_spec_error(text, line, &["duplicate key", "lr"]);
}

#[test]
fn both_command_and_stages() {
    let text = r#"[experiment]
name = "t"
command = "echo {rep}"

[params]
rep = ["a"]

[[stage]]
name = "train"
command = "echo train {rep}"
"#;
    let line = line_of(text, r#"command = "echo {rep}""#);
    assert_eq!(line, 3);
    assert_spec_error(text, line, &["both", "command", "[[stage]]"]);
}

#[test]
fn stage_after_unknown_stage() {
    let text = r#"[experiment]
name = "t"

[params]
rep = ["a", "b"]

[[stage]]
name = "prepare"
command = "echo prep {rep}"

[[stage]]
name = "train"
command = "echo train {rep}"
after = ["prepar"]
"#;
    let line = line_of(text, "after = ");
    assert_eq!(line, 14);
    assert_spec_error(text, line, &["`prepar`", "not an earlier stage"]);
}

#[test]
fn include_missing_a_parameter() {
    let text = r#"[experiment]
name = "t"
command = "echo {rep} {seed}"

[params]
rep = ["a", "b"]
seed = [1, 2]

[[include]]
rep = "c"
"#;
    // The error is about the whole [[include]] table: it points at its header.
    let line = line_of(text, "[[include]]");
    assert_eq!(line, 9);
    assert_spec_error(
        text,
        line,
        &[
            "[[include]] does not give a value for `seed`",
            "every parameter",
        ],
    );
}

#[test]
fn exclude_naming_a_non_parameter() {
    let text = r#"[experiment]
name = "t"
command = "echo {rep} {seed}"

[params]
rep = ["a", "b"]
seed = [1, 2]

[[exclude]]
rep = "a"
sede = 1
"#;
    let line = line_of(text, "sede = 1");
    assert_eq!(line, 11);
    assert_spec_error(
        text,
        line,
        &["[[exclude]] names `sede`", "not a parameter", "rep, seed"],
    );
}

#[test]
fn duration_without_unit() {
    let text = r#"[experiment]
name = "t"
command = "echo {rep}"

[params]
rep = ["a"]

[run]
workers = 1
timeout = "10"
"#;
    let line = line_of(text, "timeout");
    assert_eq!(line, 10);
    assert_spec_error(text, line, &["run.timeout", "without a unit", "10s"]);
}

#[test]
fn stage_duration_without_unit() {
    let text = r#"[experiment]
name = "t"

[params]
rep = ["a"]

[[stage]]
name = "train"
command = "echo {rep}"
timeout = "2 hours"
"#;
    let line = line_of(text, "timeout");
    assert_spec_error(text, line, &["stage.timeout"]);
}

#[test]
fn missing_experiment_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-experiment.toml");
    let stderr = run_expect_2(dir.path(), &path);
    assert!(
        stderr.contains(&path.display().to_string()),
        "stderr should name the path:\n{stderr}"
    );
    assert!(stderr.contains("cannot read"), "{stderr}");
    assert!(
        !dir.path().join(".labtrail").exists(),
        "no store for a missing file"
    );
}

#[test]
fn exclude_removing_every_combination() {
    let text = r#"[experiment]
name = "t"
command = "echo {rep} {seed}"

[params]
rep = ["a", "b"]
seed = [1, 2]

[[exclude]]
rep = "a"

[[exclude]]
rep = "b"
"#;
    let (dir, path) = write_spec(text);
    let stderr = run_expect_2(dir.path(), &path);
    assert!(
        stderr.contains(&path.display().to_string()),
        "names the file:\n{stderr}"
    );
    assert!(stderr.contains("exclude"), "mentions exclude:\n{stderr}");
    assert!(
        stderr.contains("no tasks"),
        "says the grid is empty:\n{stderr}"
    );
    assert!(
        !dir.path().join(".labtrail").join("runs").exists(),
        "no run is started for an empty grid"
    );
}

#[test]
fn literal_braces_and_awk_are_accepted() {
    let text = r#"[experiment]
name = "t"
command = "echo {{literal}} {rep} | awk '{print $1}' && echo ${HOME}"

[params]
rep = ["a", "b"]
"#;
    let (dir, path) = write_spec(text);
    let out = Command::cargo_bin("labtrail")
        .unwrap()
        .current_dir(dir.path())
        .args(["--no-progress", "run"])
        .arg(&path)
        .arg("--dry-run")
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("rep=a"), "{stdout}");
    assert!(stdout.contains("rep=b"), "{stdout}");
    // A dry run runs nothing.
    assert!(!dir.path().join(".labtrail").join("runs").exists());

    // And the command renders with the literal text kept.
    let spec = labtrail::spec::Spec::parse(&path, text.to_string()).expect("valid");
    let plan = labtrail::plan::expand(&spec);
    assert_eq!(plan.tasks.len(), 2);
    assert_eq!(
        plan.tasks[0].command,
        "echo {literal} a | awk '{print $1}' && echo ${HOME}"
    );
}
