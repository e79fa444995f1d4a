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

/// Issue 9 (found in review): two stages whose names differ only in case would share one
/// LABTRAIL_UPSTREAM_<STAGE> variable; a stage after both got only one of them.
#[test]
fn stage_names_that_differ_only_in_case() {
    let text = r#"[experiment]
name = "t"

[[stage]]
name = "Pre_process"
command = "true"

[[stage]]
name = "pre_Process"
command = "true"
"#;
    let line = line_of(text, "name = \"pre_Process\"");
    assert_spec_error(
        text,
        line,
        &[
            "`pre_Process` and `Pre_process`",
            "LABTRAIL_UPSTREAM_<STAGE>",
        ],
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
        plan.command(0, &spec),
        "echo {literal} a | awk '{print $1}' && echo ${HOME}"
    );
}

/// Issue 9: a placeholder inside `$'…'` cannot be quoted safely (the shell interprets backslash
/// escapes there); it is refused at its line, with how to write it.
#[test]
fn placeholder_inside_ansi_c_quotes() {
    let text = r#"[experiment]
name = "t"
command = "echo $'{rep}'"

[params]
rep = ["a"]
"#;
    let line = line_of(text, "$'{rep}'");
    assert_spec_error(text, line, &["{rep}", "$'", "outside"]);
}

/// Issue 9: a quote that never closes leaves the place of a placeholder unknown.
#[test]
fn placeholder_after_an_unclosed_quote() {
    let text = r#"[experiment]
name = "t"

[params]
rep = ["a"]

[[stage]]
name = "train"
command = "python3 train.py --name '{rep}"
"#;
    let line = line_of(text, "--name '{rep}");
    assert_spec_error(text, line, &["never closes", "{rep}", "close the quote"]);
}

/// Issue 9: `workdir` is one folder for a stage's tasks; a placeholder there used to be kept as
/// literal braces (a folder named `{rep}`).
#[test]
fn placeholder_in_workdir() {
    let text = r#"[experiment]
name = "t"

[params]
rep = ["a", "b"]

[[stage]]
name = "train"
workdir = "runs/{rep}"
command = "echo {rep}"
"#;
    let line = line_of(text, "workdir");
    assert_spec_error(
        text,
        line,
        &["workdir", "{rep}", "not substituted", "cd {rep} &&"],
    );
}

/// Issue 9: a missing `workdir` made every task fail to start; it is refused before the run.
#[test]
fn workdir_that_does_not_exist() {
    let text = r#"[experiment]
name = "t"
workdir = "no-such-folder"
command = "echo {rep}"

[params]
rep = ["a"]
"#;
    let line = line_of(text, "workdir");
    assert_spec_error(text, line, &["workdir `no-such-folder`", "does not exist"]);
}

/// Issue 9: a `workdir` that is a file is named as such, at its line.
#[test]
fn workdir_that_is_a_file() {
    let text = r#"[experiment]
name = "t"

[params]
rep = ["a"]

[[stage]]
name = "train"
command = "echo {rep}"
workdir = "exp.toml"
"#;
    let line = line_of(text, "workdir");
    assert_spec_error(
        text,
        line,
        &["workdir `exp.toml`", "is a file, not a folder"],
    );
}

/// Issue 9: a NUL cannot be passed in an argument or the environment; it is refused at its line
/// in a value, a command and an env value.
#[test]
fn nul_characters() {
    let value = r#"[experiment]
name = "t"
command = "echo {rep}"

[params]
rep = ["a\u0000b"]
"#;
    assert_spec_error(value, line_of(value, "rep = "), &["`rep`", "NUL"]);
    let command = r#"[experiment]
name = "t"
command = "echo \u0000 {rep}"

[params]
rep = ["a"]
"#;
    assert_spec_error(command, line_of(command, "command"), &["command", "NUL"]);
    let env = r#"[experiment]
name = "t"
command = "echo {rep}"
env = { X = "a\u0000" }

[params]
rep = ["a"]
"#;
    assert_spec_error(env, line_of(env, "env = "), &["env.X", "NUL"]);
}

/// Issue 9: `2` and `"2"` are one value to commands, labels and the environment: two tasks
/// nobody could tell apart.
#[test]
fn same_value_as_number_and_string() {
    let text = r#"[experiment]
name = "t"
command = "echo {n}"

[params]
n = [1, 2, "2"]
"#;
    let line = line_of(text, "n = ");
    assert_spec_error(text, line, &["`n`", "2 and \"2\"", "same value"]);
}

/// Issue 9: an `[[include]]` or `[[exclude]]` value written with another type than in [params]
/// never matched (an exclude silently excluded nothing).
#[test]
fn exclude_value_of_another_type() {
    let text = r#"[experiment]
name = "t"
command = "echo {n} {m}"

[params]
n = [1, 2]
m = ["a", "b"]

[[exclude]]
n = "2"
"#;
    let line = line_of(text, "n = \"2\"");
    assert_spec_error(text, line, &["[[exclude]]", "\"2\"", "n = 2"]);
}

/// Issue 9: labels are `a=1,b=2`; a value with `,` makes two tasks' labels ambiguous (`a` =
/// `x,b=c` or `a` = `x` and `b` = `c`). A `=` in a value is not ambiguous (labels and filters
/// split each pair at its first `=`, and names have none), so `--lr=0.1` stays a valid value.
#[test]
fn values_that_make_labels_ambiguous() {
    for bad in ["x,b=c", "x,"] {
        let text = format!(
            "[experiment]\nname = \"t\"\ncommand = \"echo {{a}} {{b}}\"\n\n[params]\na = [\"{bad}\"]\nb = [1]\n"
        );
        let line = line_of(&text, "a = ");
        assert_spec_error(&text, line, &["`a`", "labels", "ambiguous"]);
    }
    let include = r#"[experiment]
name = "t"
command = "echo {a}"

[params]
a = ["x"]

[[include]]
a = "y,z"
"#;
    assert_spec_error(
        include,
        line_of(include, "a = \"y,z\""),
        &["[[include]]", "`,`"],
    );
}

/// Issue 9: `timeout = "99999999999999h"` was accepted, and the deadline computed from it
/// overflowed the clock; 400 digits made the parser panic.
#[test]
fn durations_that_overflow() {
    for huge in [
        "99999999999999h",
        &format!("{}s", "9".repeat(400)),
        "999999999999999999-00:00:00",
    ] {
        let text = format!(
            "[experiment]\nname = \"t\"\ncommand = \"echo {{rep}}\"\n\n[params]\nrep = [1]\n\n[run]\ntimeout = \"{huge}\"\n"
        );
        let line = line_of(&text, "timeout");
        assert_spec_error(&text, line, &["run.timeout", "limit of 365 days"]);
    }
}

/// Issue 9: values make labels, and labels of tens of KiB broke listings; a value longer than
/// the documented limit is refused.
#[test]
fn value_longer_than_the_limit() {
    let text = format!(
        "[experiment]\nname = \"t\"\ncommand = \"echo {{rep}}\"\n\n[params]\nrep = [\"short\", \"{}\"]\n",
        "x".repeat(labtrail::spec::MAX_VALUE_BYTES + 1)
    );
    let line = line_of(&text, "rep = ");
    assert_spec_error(&text, line, &["`rep`", "1025 bytes", "limit of 1024"]);
}

/// Issue 9: many parameters with long values make labels past the limit, even though each value
/// is within its own; the error points at the [params] table.
#[test]
fn labels_longer_than_the_limit() {
    let mut text = String::from("[experiment]\nname = \"t\"\ncommand = \"echo\"\n\n[params]\n");
    for i in 0..10 {
        text.push_str(&format!("p{i} = [\"{}\"]\n", "x".repeat(1000)));
    }
    let line = line_of(&text, "[params]");
    assert_spec_error(&text, line, &["labels", "limit of 8192 bytes"]);
}

/// Issue 9: a grid of 8^10 (about 10^9) combinations aborted while being allocated; it is
/// refused, counted without allocating, at the [params] table.
#[test]
fn grid_beyond_the_limit() {
    let mut text = String::from("[experiment]\nname = \"t\"\ncommand = \"echo\"\n\n[params]\n");
    for i in 0..10 {
        text.push_str(&format!("p{i} = [1, 2, 3, 4, 5, 6, 7, 8]\n"));
    }
    let line = line_of(&text, "[params]");
    assert_spec_error(
        &text,
        line,
        &[
            "1073741824 combinations",
            "8 × 8",
            "limit of 1000000",
            "split",
        ],
    );
    // A product that does not even fit in 64 bits.
    let mut text = String::from("[experiment]\nname = \"t\"\ncommand = \"echo\"\n\n[params]\n");
    let values: Vec<String> = (0..1000).map(|v| v.to_string()).collect();
    for i in 0..8 {
        text.push_str(&format!("p{i} = [{}]\n", values.join(", ")));
    }
    assert_spec_error(
        &text,
        line_of(&text, "[params]"),
        &["more than 18446744073709551615"],
    );
}

/// Issue 9: the limit counts the tasks of every stage: three stages over a grid of 500,000 make
/// 1.5 million tasks.
#[test]
fn tasks_of_all_stages_beyond_the_limit() {
    let values: Vec<String> = (0..1000).map(|v| v.to_string()).collect();
    let values = values.join(", ");
    let text = format!(
        "[experiment]\nname = \"t\"\n\n[params]\na = [{values}]\nb = [{}]\n\n\
         [[stage]]\nname = \"one\"\ncommand = \"echo\"\n\n\
         [[stage]]\nname = \"two\"\ncommand = \"echo\"\n\n\
         [[stage]]\nname = \"three\"\ncommand = \"echo\"\n",
        (0..500)
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let line = line_of(&text, "[params]");
    assert_spec_error(
        &text,
        line,
        &["1500000 tasks", "3 stages", "limit of 1000000"],
    );
}

/// Issue 9: an experiment file over 1 MiB (a data file given by mistake) is refused before it is
/// read into memory.
#[test]
fn experiment_file_beyond_the_size_limit() {
    let mut text = String::from(
        "[experiment]\nname = \"t\"\ncommand = \"echo {rep}\"\n\n[params]\nrep = [1]\n",
    );
    let comment = format!("# {}\n", "x".repeat(1000));
    while text.len() as u64 <= labtrail::spec::MAX_FILE_BYTES {
        text.push_str(&comment);
    }
    let (dir, path) = write_spec(&text);
    let stderr = run_expect_2(dir.path(), &path);
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    assert!(
        stderr.contains("limit of 1048576 bytes (1 MiB)"),
        "{stderr}"
    );
    assert!(!dir.path().join(".labtrail").join("runs").exists());
}

/// Issue 9 (found in review): an experiment "file" that is a FIFO is refused at once (before,
/// `run` waited for a writer, for ever).
#[test]
fn experiment_file_that_is_a_fifo() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exp.toml");
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_labtrail"))
        .args(["run", "exp.toml"])
        .current_dir(dir.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let ended = (0..500).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(20));
        child.try_wait().unwrap().is_some()
    });
    if !ended {
        child.kill().unwrap();
        panic!("labtrail waited on the FIFO");
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not a regular file"), "{stderr}");
}

/// Issue 9 (found in review): a zero time limit (every attempt would time out as it starts) is
/// refused at its line, and `-j 0` like `workers = 0`.
#[test]
fn zero_timeout_and_zero_workers() {
    let text = "[experiment]\nname = \"t\"\ncommand = \"true\"\n[run]\ntimeout = \"0s\"\n";
    assert_spec_error(text, 5, &["run.timeout", "zero"]);
    let (dir, path) = write_spec("[experiment]\nname = \"t\"\ncommand = \"true\"\n");
    let out = Command::cargo_bin("labtrail")
        .unwrap()
        .current_dir(dir.path())
        .args(["run", "-j", "0"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("-j 0"));
    assert!(!dir.path().join(".labtrail").exists(), "nothing was made");
}

/// Issue 9 (found in review): an unquoted date is named as a date, with the way to quote it
/// (before, the message showed the TOML reader's private table `$__toml_private_datetime`).
#[test]
fn a_date_as_a_value() {
    let text = "[experiment]\nname = \"t\"\ncommand = \"echo {d}\"\n[params]\nd = [2024-01-01]\n";
    let err = assert_spec_error(text, 5, &["has a date, 2024-01-01", "\"2024-01-01\""]);
    assert!(!err.contains("private"), "{err}");
}
