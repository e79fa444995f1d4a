//! Issue 14: `LABTRAIL_SLOT` and `{slot}` (the worker slot, like GNU parallel's `{%}`), and
//! `PYTHONUNBUFFERED=1`, so that `logs --follow` shows a Python task's output as it comes.

mod common;
use common::*;
use std::time::Duration;

/// Issue 14: `{slot}` in a command is the attempt's worker slot, the same as `LABTRAIL_SLOT`,
/// substituted at launch: the task's key hashes `{slot}` as written, so running with another
/// number of workers resumes the same tasks.
#[test]
fn slot_placeholder_is_the_worker_slot_and_not_part_of_identity() {
    let exp = Exp::new(
        r#"
[experiment]
name = "slots"
command = "echo {slot} $LABTRAIL_SLOT '{{slot}}' >> slots.txt; sleep 0.{d}"
[params]
i = [0, 1, 2, 3, 4]
d = [1, 2]
"#,
    );
    exp.run_ok(&["run", "exp.toml", "-q", "-j", "3"]);
    let lines = exp.ledger("slots.txt");
    assert_eq!(lines.len(), 10);
    for l in &lines {
        let f: Vec<&str> = l.split(' ').collect();
        assert_eq!(f[0], f[1], "{{slot}} and LABTRAIL_SLOT differ: {l}");
        assert!(["1", "2", "3"].contains(&f[0]), "{l}");
        assert_eq!(
            f[2], "{slot}",
            "a written-out {{{{slot}}}} stays literal: {l}"
        );
    }
    let commands = exp.run_ok(&["tasks", "--json"]).stdout();
    assert!(commands.contains("echo {slot} "), "{commands}");
    let again = exp.run_ok(&["run", "exp.toml", "-j", "1"]);
    assert!(
        again.stderr().contains("nothing to run"),
        "{}",
        again.stderr()
    );
}

/// Issue 14: a parameter named `slot` keeps its meaning; on SLURM `{slot}` is refused, and in
/// `env` it is not substituted (the error says what to use).
#[test]
fn a_slot_parameter_keeps_its_meaning_and_slurm_refuses_the_placeholder() {
    let exp = Exp::new(
        r#"
[experiment]
name = "param"
command = "echo {slot} >> slots.txt"
[params]
slot = ["a", "b"]
"#,
    );
    exp.run_ok(&["run", "exp.toml", "-q"]);
    let mut lines = exp.ledger("slots.txt");
    lines.sort();
    assert_eq!(lines, ["a", "b"]);

    let slurm = Exp::new(
        "[experiment]\nname = \"s\"\ncommand = \"train --gpu {slot}\"\n[run]\nexecutor = \"slurm\"\n",
    );
    let out = slurm.run(&["run", "exp.toml"]);
    assert_ne!(out.code(), 0);
    assert!(
        out.stderr().contains("exp.toml:3:") && out.stderr().contains("executor = \"slurm\""),
        "{}",
        out.stderr()
    );

    let env =
        Exp::new("[experiment]\nname = \"e\"\ncommand = \"true\"\nenv = { GPU = \"{slot}\" }\n");
    let out = env.run(&["run", "exp.toml"]);
    assert_ne!(out.code(), 0);
    assert!(out.stderr().contains("LABTRAIL_SLOT"), "{}", out.stderr());
}

/// Issue 14: a Python task's print reaches its log while it runs (its stdout is a file, which
/// Python would otherwise buffer until exit), because labtrail sets `PYTHONUNBUFFERED=1`.
#[test]
fn python_output_reaches_the_log_while_the_task_runs() {
    let exp = Exp::new(
        r#"
[experiment]
name = "py"
command = "python3 -c 'import os, time\nprint(\"epoch 1 done\")\nwhile not os.path.exists(\"gate\"): time.sleep(0.05)'"
"#,
    );
    let child = exp
        .cmd(&["run", "exp.toml", "-q"])
        .env_remove("PYTHONUNBUFFERED")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let log = || {
        let dir = exp.file(".labtrail/runs");
        let Ok(mut runs) = std::fs::read_dir(&dir) else {
            return String::new();
        };
        let Some(Ok(run)) = runs.next() else {
            return String::new();
        };
        std::fs::read_dir(run.path().join("attempts"))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with("stdout.log"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
            .collect()
    };
    let seen = std::panic::catch_unwind(|| {
        wait_until("the print in the log", Duration::from_secs(60), || {
            log().contains("epoch 1 done")
        })
    });
    std::fs::write(exp.file("gate"), "").unwrap();
    let out = finish(child);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        seen.is_ok(),
        "the task's print was not in its log while it ran"
    );
}
