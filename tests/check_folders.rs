//! Issue 10: `labtrail check` compares the store's records with the run folders: what a record
//! expects and is missing is a problem (exit 3), what no record knows is a notice (exit 0).

mod check_common;
mod common;
use check_common::*;
use serde_json::Value;

/// Issue 10: a runner killed between making an attempt's logs and recording the attempt leaves
/// files no record knows. `check` names them as a notice (exit 0: nothing is lost, the next run
/// counts the attempt as interrupted), and once that run recorded them, says nothing more.
#[test]
fn attempt_files_no_record_knows_are_a_notice() {
    let exp = gated();
    assert_eq!(exp.run(&["run", "exp.toml", "-q"]).code(), 1);
    let clean = exp.run(&["check"]);
    assert_eq!(clean.code(), 0, "{}", clean.stderr());
    assert!(!clean.stdout().contains("notice"), "{}", clean.stdout());
    let gate = key(&exp, "gate");
    // What the killed runner made for attempt 2 before it could record it: its two logs.
    let attempts = exp.run_dir().join("attempts");
    for log in ["stdout.log", "stderr.log"] {
        std::fs::write(attempts.join(format!("{gate}-2.{log}")), "").unwrap();
    }
    let out = exp.run(&["check"]);
    assert_eq!(out.code(), 0, "a notice is not a problem: {}", out.stderr());
    let stdout = out.stdout();
    assert!(
        stdout.contains(&format!(
            "notice: run {}: {}",
            exp.run_dir().file_name().unwrap().to_string_lossy(),
            attempts.join(format!("{gate}-2.stderr.log")).display()
        )) && stdout
            .contains("(the logs of attempt 2) of task x=gate are known to no attempt record"),
        "{stdout}"
    );
    // Issue 10 (review): what becomes of them is said, and it is not "delete them" before the
    // next run recorded them (it does, below).
    assert!(
        stdout.contains("the next `labtrail run` of the run records them as an interrupted attempt of the task; nothing to do")
            && !stdout.contains("delete them"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok: ") && stdout.contains("1 notice(s)"),
        "{stdout}"
    );
    let (code, report) = check_json(&exp, &[]);
    assert_eq!(code, 0);
    let found = findings(&report, "unknown_attempt_files");
    assert_eq!(
        found.len(),
        1,
        "one finding for the attempt's files: {report}"
    );
    assert_eq!(found[0]["severity"], "notice");
    assert_eq!(found[0]["key"], gate.as_str());
    assert_eq!(found[0]["paths"].as_array().unwrap().len(), 2, "{report}");
    // A file a user put there is not an attempt's: said so.
    std::fs::write(attempts.join("notes.txt"), "mine").unwrap();
    let text = exp.run(&["check"]).stdout();
    assert!(
        text.contains(&format!(
            "{} is not named like an attempt's file (made by hand?): labtrail does not use it",
            attempts.join("notes.txt").display()
        )),
        "{text}"
    );
    std::fs::remove_file(attempts.join("notes.txt")).unwrap();

    exp.write("go", "");
    assert_eq!(exp.run(&["run", "exp.toml", "-q"]).code(), 0);
    let history = exp.attempts("x=gate");
    assert_eq!(history[1]["outcome"], "interrupted", "{history:?}");
    let (code, report) = check_json(&exp, &[]);
    assert_eq!(code, 0);
    assert_eq!(report["findings"], serde_json::json!([]), "{report}");
}

/// Issue 10: a done task's deleted folder and a deleted run folder are problems (exit 3), in
/// the JSON report too, with the path and what to do.
#[test]
fn missing_task_and_run_folders_are_problems_in_json() {
    let exp = gated();
    exp.write("go", "");
    assert_eq!(exp.run(&["run", "exp.toml", "-q"]).code(), 0);
    let gate = key(&exp, "gate");
    let task_dir = exp.run_dir().join("tasks").join(&gate);
    std::fs::remove_dir_all(&task_dir).unwrap();
    let (code, report) = check_json(&exp, &[]);
    assert_eq!(code, 3, "{report}");
    let found = findings(&report, "task_folder_missing");
    assert_eq!(found.len(), 1, "{report}");
    assert_eq!(found[0]["severity"], "problem");
    assert_eq!(found[0]["task"], "x=gate");
    assert_eq!(found[0]["paths"][0], task_dir.display().to_string());
    assert!(
        found[0]["message"]
            .as_str()
            .unwrap()
            .contains("labtrail reset --run"),
        "{report}"
    );
    assert_eq!(report["database_problems"], serde_json::json!([]));

    let run_dir = exp.run_dir();
    std::fs::remove_dir_all(&run_dir).unwrap();
    let (code, report) = check_json(&exp, &[]);
    assert_eq!(code, 3, "{report}");
    let found = findings(&report, "run_folder_missing");
    assert_eq!(found.len(), 1, "{report}");
    assert_eq!(found[0]["paths"][0], run_dir.display().to_string());
}

/// Issue 10: a task folder no task knows (copied in by hand, or left by a record a repair lost)
/// and a run folder no run knows (copied from another store) are notices; the folder a real
/// reset moved aside is known and not reported.
#[test]
fn task_and_run_folders_no_record_knows_are_notices() {
    let exp = gated();
    exp.write("go", "");
    assert_eq!(exp.run(&["run", "exp.toml", "-q"]).code(), 0);
    assert_eq!(exp.run(&["reset", "x=gate"]).code(), 0);
    assert_eq!(exp.run(&["run", "exp.toml", "-q"]).code(), 0);
    let gate = key(&exp, "gate");
    let run_dir = exp.run_dir();
    assert!(run_dir.join(format!("tasks/{gate}.reset-1")).is_dir());
    assert_eq!(check_json(&exp, &[]).1["findings"], serde_json::json!([]));

    let stray_task = run_dir.join("tasks/00112233aabbccdd");
    std::fs::create_dir_all(stray_task.join("checkpoints")).unwrap();
    let stray_run = exp.file(".labtrail/runs/chk-copied-from-elsewhere");
    std::fs::create_dir_all(stray_run.join("tasks")).unwrap();
    let (code, report) = check_json(&exp, &[]);
    assert_eq!(code, 0, "{report}");
    let task = findings(&report, "unknown_task_folder");
    assert_eq!(task.len(), 1, "{report}");
    assert_eq!(task[0]["severity"], "notice");
    assert_eq!(task[0]["paths"][0], stray_task.display().to_string());
    let run = findings(&report, "unknown_run_folder");
    assert_eq!(run.len(), 1, "{report}");
    assert_eq!(run[0]["paths"][0], stray_run.display().to_string());
    let text = exp.run(&["check"]).stdout();
    assert!(
        text.contains(&format!(
            "{} belongs to no task of the run",
            stray_task.display()
        )) && text.contains("move it away or delete it"),
        "{text}"
    );
}

/// Issue 10: a run begun by labtrail 0.1 (layout 1) kept attempts in `tasks/KEY/attempt-N`; one
/// its runner started without recording is a notice.
#[test]
fn a_layout_1_attempt_folder_no_record_knows_is_a_notice() {
    let exp = gated_tasks(r#"["gate"]"#);
    assert_eq!(exp.run(&["run", "exp.toml", "-q"]).code(), 1);
    let db = rusqlite::Connection::open(exp.file(".labtrail/labtrail.db")).unwrap();
    db.execute("UPDATE runs SET layout = 1", []).unwrap();
    drop(db);
    let gate = key(&exp, "gate");
    let folder = exp.run_dir().join("tasks").join(&gate).join("attempt-2");
    std::fs::create_dir_all(&folder).unwrap();
    let (code, report) = check_json(&exp, &[]);
    assert_eq!(code, 0, "{report}");
    let found = findings(&report, "unknown_attempt_files");
    assert_eq!(found.len(), 1, "{report}");
    assert_eq!(found[0]["paths"][0], folder.display().to_string());
}

/// Issue 10: `check --scheduler` on a store with no SLURM run asks nothing; a SLURM run's store
/// read where SLURM is not installed (copied home from the cluster) says the scheduler is
/// absent, which is not an error; a scheduler that does not answer is exit 5, nothing compared.
#[test]
fn the_scheduler_check_without_slurm_runs_or_without_slurm() {
    let exp = gated();
    exp.write("go", "");
    assert_eq!(exp.run(&["run", "exp.toml", "-q"]).code(), 0);
    let (code, report) = check_json(&exp, &["--scheduler"]);
    assert_eq!(code, 0);
    assert_eq!(report["scheduler"]["status"], "no_slurm_runs", "{report}");
    // The run as the cluster made it: its executor is slurm.
    let db = rusqlite::Connection::open(exp.file(".labtrail/labtrail.db")).unwrap();
    db.execute("UPDATE runs SET executor = 'slurm'", [])
        .unwrap();
    drop(db);
    // No squeue on PATH: a machine without SLURM.
    std::fs::create_dir(exp.file("bin-without-slurm")).unwrap();
    let without_slurm = |args: &[&str]| {
        exp.cmd(args)
            .env("PATH", exp.file("bin-without-slurm"))
            .env_remove("LABTRAIL_SQUEUE")
            .output()
            .unwrap()
    };
    let out = without_slurm(&["check", "--scheduler"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("scheduler: absent"), "{text}");
    let json = without_slurm(&["check", "--scheduler", "--json"]);
    let report: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["scheduler"]["status"], "absent", "{report}");
    // A fault injector: a scheduler whose controller does not answer. Written by a child
    // process, so that no thread of this test holds it open for writing when it is run.
    let made = std::process::Command::new("sh")
        .arg("-c")
        .arg("printf '#!/bin/sh\\necho \"squeue: error: Unable to contact slurm controller\" >&2; exit 1\\n' > \"$1\" && chmod +x \"$1\"")
        .arg("sh")
        .arg(exp.file("fault-injector-squeue"))
        .status()
        .unwrap();
    assert!(made.success());
    let out = exp
        .cmd(&["check", "--scheduler"])
        .env("LABTRAIL_SQUEUE", exp.file("fault-injector-squeue"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(5), "nothing was compared: {text}");
    assert!(
        text.contains("scheduler: did not answer") && text.contains("Unable to contact"),
        "{text}"
    );
}

/// Issue 10: `check` takes the experiment file, as the reading commands do, and checks (or
/// repairs) the store next to it from any folder; a file that never ran says so.
#[test]
fn check_takes_the_experiment_file_from_any_folder() {
    let exp = gated();
    assert_eq!(exp.run(&["run", "exp.toml", "-q"]).code(), 1);
    let elsewhere = tempfile::tempdir().unwrap();
    let from_elsewhere = |args: &[&str]| {
        let mut cmd = exp.cmd(args);
        cmd.current_dir(elsewhere.path());
        common::Out(cmd.output().unwrap())
    };
    let file = exp.file("exp.toml").display().to_string();
    let out = from_elsewhere(&["check", &file]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stdout().starts_with(&format!(
            "ok: {}",
            exp.file(".labtrail/labtrail.db").display()
        )),
        "{}",
        out.stdout()
    );
    let repaired = from_elsewhere(&["check", "--repair", "--yes", &file]);
    assert_eq!(repaired.code(), 0, "{}", repaired.stderr());
    exp.write(
        "never.toml",
        "[experiment]\nname = \"never\"\ncommand = \"true\"\n",
    );
    let never = exp.file("never.toml").display().to_string();
    std::fs::remove_dir_all(exp.file(".labtrail")).unwrap();
    let out = from_elsewhere(&["check", &never]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(
        out.stderr().contains("has no run in the store"),
        "{}",
        out.stderr()
    );
}
