//! Issue 10 (review): `labtrail check` against the run folders, the cases an adversarial review
//! found wrong: a run stopped before its folder, a retired task's folder, names that are not
//! UTF-8, a run at work, what unrecorded files are, a scheduler command set wrongly, and folders
//! of thousands of stray files.

mod check_common;
mod common;
use check_common::*;
use common::*;

/// Issue 10 (review): a runner stopped between creating the run and making its folder (killed
/// a few milliseconds after it started) leaves a run with no attempt and no folder. Nothing was
/// kept there, so `check` finds nothing; the next `run` resumes the run and makes the folder.
#[test]
fn a_run_stopped_before_its_folder_was_made_is_not_a_problem() {
    let exp = gated_tasks(r#"["ok"]"#);
    let out = exp
        .cmd(&["run", "exp.toml", "-q"])
        .env("LABTRAIL_FAULT", "run-before-folders")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the fault injection stopped it");
    assert_eq!(
        exp.run(&["list", "--json"])
            .stdout()
            .matches("\"id\"")
            .count(),
        1
    );
    let runs = exp.file(".labtrail/runs");
    assert!(
        std::fs::read_dir(&runs).map_or(true, |mut d| d.next().is_none()),
        "no run folder yet"
    );
    let (code, report) = check_json(&exp, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["findings"], serde_json::json!([]), "{report}");
    assert_eq!(exp.run(&["run", "exp.toml", "-q"]).code(), 0);
    let (code, report) = check_json(&exp, &[]);
    assert_eq!(
        (code, &report["findings"]),
        (0, &serde_json::json!([])),
        "{report}"
    );
}

/// Issue 10 (review): a done task that left the plan (its parameter was taken out of the
/// experiment file) and whose folder the user deleted is not a problem: nothing uses the folder
/// while the task is out of the plan. `check` gives a notice whose advice works: once the file
/// brings the task back, `labtrail reset --run R KEY` resets it (it matched no task before).
#[test]
fn a_retired_tasks_missing_folder_is_a_notice_with_advice_that_works() {
    let exp = gated();
    exp.write("go", "");
    assert_eq!(exp.run(&["run", "exp.toml", "-q"]).code(), 0);
    let gate = key(&exp, "gate");
    let run = exp
        .run_dir()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let both = std::fs::read_to_string(exp.file("exp.toml")).unwrap();
    exp.write("exp.toml", &both.replace(r#"["ok", "gate"]"#, r#"["ok"]"#));
    assert_eq!(exp.run(&["run", "exp.toml", "-q"]).code(), 0);
    std::fs::remove_dir_all(exp.run_dir().join("tasks").join(&gate)).unwrap();
    let (code, report) = check_json(&exp, &[]);
    assert_eq!(code, 0, "{report}");
    let found = findings(&report, "task_folder_missing");
    assert_eq!(found.len(), 1, "{report}");
    assert_eq!(found[0]["severity"], "notice", "{report}");
    let message = found[0]["message"].as_str().unwrap();
    assert!(message.contains("left the run's plan"), "{message}");
    let advice = format!("labtrail reset --run {run} {gate}");
    assert!(message.contains(&advice), "{message}");
    // The advice, followed: the task comes back (done), and the reset reaches it.
    exp.write("exp.toml", &both);
    assert_eq!(exp.run(&["run", "exp.toml", "-q"]).code(), 0);
    let reset = exp.run(&["reset", "--run", &run, &gate]);
    assert_eq!(reset.code(), 0, "{}", reset.stderr());
    assert_eq!(exp.run(&["run", "exp.toml", "-q"]).code(), 0);
    let (code, report) = check_json(&exp, &[]);
    assert_eq!(
        (code, &report["findings"]),
        (0, &serde_json::json!([])),
        "{report}"
    );
}

/// Issue 10 (review): a file whose name is not valid UTF-8 in a run's folder. `check --json`
/// stays valid JSON (it printed nothing and failed before): the name is in `paths` with U+FFFD
/// for the bad byte and exact in `paths_escaped`, which the text output shows too, written so
/// that it can be copied into a shell.
#[test]
fn a_file_name_that_is_not_utf8_is_reported_in_json_and_escaped_in_text() {
    use std::os::unix::ffi::OsStrExt;
    let exp = gated();
    exp.write("go", "");
    assert_eq!(exp.run(&["run", "exp.toml", "-q"]).code(), 0);
    let attempts = exp.run_dir().join("attempts");
    let name = std::ffi::OsStr::from_bytes(b"notes-\xff'.txt");
    std::fs::write(attempts.join(name), "mine").unwrap();
    let (code, report) = check_json(&exp, &[]);
    assert_eq!(code, 0, "{report}");
    let found = findings(&report, "unknown_attempt_files");
    assert_eq!(found.len(), 1, "{report}");
    let lossy = found[0]["paths"][0].as_str().unwrap();
    assert!(lossy.ends_with("notes-\u{fffd}'.txt"), "{report}");
    let escaped = found[0]["paths_escaped"][0].as_str().unwrap();
    assert_eq!(
        escaped,
        format!("$'{}/notes-\\xff\\'.txt'", attempts.display()),
        "{report}"
    );
    let text = exp.run(&["check"]).stdout();
    assert!(text.contains(escaped), "{text}");
    // What the user copies names the file.
    let copied = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("test -f {escaped}"))
        .status()
        .unwrap();
    assert!(copied.success(), "{escaped}");
}

/// Issue 10 (review): `check` while a runner is at work. Its attempts' files exist a moment
/// before their records do (the runner commits in batches); while it holds the run, they are
/// expected and not reported as files of an attempt a stopped runner never recorded.
#[test]
fn a_running_runs_attempt_files_are_not_reported() {
    let exp = Exp::new(
        r#"
[experiment]
name = "chk"
command = "touch started-{x}; while [ ! -e go ]; do sleep 0.05; done; echo '{\"ok\": 1}' > $LABTRAIL_RESULT"
[params]
x = [1, 2, 3, 4]
"#,
    );
    let runner = exp.spawn(&["run", "exp.toml", "-q", "-j", "4"]);
    wait_until(
        "every task to run",
        std::time::Duration::from_secs(60),
        || (1..=4).all(|x| exp.file(&format!("started-{x}")).exists()),
    );
    // Every check while the tasks run, from the first moment on: none reports their files.
    let mut reports = Vec::new();
    for _ in 0..5 {
        reports.push(check_json(&exp, &[]));
    }
    exp.write("go", "");
    let out = finish(runner);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    for (code, report) in reports {
        assert_eq!(code, 0, "{report}");
        assert!(
            findings(&report, "unknown_attempt_files").is_empty(),
            "{report}"
        );
    }
}

/// Issue 10 (review): in a SLURM run, the job script of a submission sbatch refused is named as
/// what it is (a job script, not logs), with the causes that fit a monitor, and no promise that
/// a run records it.
#[test]
fn a_job_script_no_record_knows_is_called_a_job_script() {
    let exp = gated();
    exp.write("go", "");
    assert_eq!(exp.run(&["run", "exp.toml", "-q"]).code(), 0);
    let db = rusqlite::Connection::open(exp.file(".labtrail/labtrail.db")).unwrap();
    db.execute("UPDATE runs SET executor = 'slurm'", [])
        .unwrap();
    drop(db);
    let gate = key(&exp, "gate");
    let script = exp
        .run_dir()
        .join("attempts")
        .join(format!("{gate}-2.sbatch"));
    std::fs::write(&script, "#!/bin/sh\n").unwrap();
    let (code, report) = check_json(&exp, &[]);
    assert_eq!(code, 0, "{report}");
    let found = findings(&report, "unknown_attempt_files");
    assert_eq!(found.len(), 1, "{report}");
    let message = found[0]["message"].as_str().unwrap();
    assert!(
        message.contains("(the job script of attempt 2) of task x=gate")
            && message.contains("a submission that sbatch refused")
            && !message.contains("logs")
            && !message.contains("records them"),
        "{message}"
    );
}

/// Issue 10 (review): a scheduler command set by hand that is wrong is not "no SLURM on this
/// machine" (exit 0): LABTRAIL_SQUEUE naming no program, or a script whose interpreter is
/// missing, did not answer (exit 5), and a program that fails says its exit status once.
#[test]
fn a_wrongly_set_scheduler_command_is_not_an_absent_scheduler() {
    let exp = gated();
    exp.write("go", "");
    assert_eq!(exp.run(&["run", "exp.toml", "-q"]).code(), 0);
    let db = rusqlite::Connection::open(exp.file(".labtrail/labtrail.db")).unwrap();
    db.execute("UPDATE runs SET executor = 'slurm'", [])
        .unwrap();
    drop(db);
    // Written by a child process, so that no thread of this test holds it open for writing.
    let made = std::process::Command::new("sh")
        .arg("-c")
        .arg("printf '#!/no/such/interpreter\\n' > \"$1\" && chmod +x \"$1\"")
        .arg("sh")
        .arg(exp.file("squeue-without-interpreter"))
        .status()
        .unwrap();
    assert!(made.success());
    let check = |squeue: &std::path::Path| {
        let out = exp
            .cmd(&["check", "--scheduler"])
            .env("LABTRAIL_SQUEUE", squeue)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    for squeue in [
        exp.file("no-such-squeue"),
        exp.file("squeue-without-interpreter"),
    ] {
        let (code, text) = check(&squeue);
        assert_eq!(code, Some(5), "{}: {text}", squeue.display());
        assert!(
            text.contains("scheduler: did not answer") && !text.contains("absent"),
            "{text}"
        );
    }
    let (code, text) = check(std::path::Path::new("/bin/false"));
    assert_eq!(code, Some(5), "{text}");
    assert!(
        text.contains("exit status: 1") && !text.contains("exit status exit status"),
        "{text}"
    );
}

/// Issue 10 (review): a folder of thousands of stray files gives a few examples and a count,
/// not a line each (it printed 200,000 lines and held them all); `--all` lists every one.
#[test]
fn thousands_of_stray_files_are_summarised_unless_all() {
    let exp = gated();
    exp.write("go", "");
    assert_eq!(exp.run(&["run", "exp.toml", "-q"]).code(), 0);
    let attempts = exp.run_dir().join("attempts");
    for i in 0..5000 {
        std::fs::write(attempts.join(format!("stray-{i}.txt")), "").unwrap();
    }
    let out = exp.run(&["check", "-q"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let text = out.stdout();
    assert!(text.lines().count() <= 25, "{} lines", text.lines().count());
    assert!(
        text.contains(&format!(
            "4980 more entries no attempt record knows in {}, not listed one by one: `labtrail check --all` lists every one",
            attempts.display()
        )),
        "{text}"
    );
    let (code, report) = check_json(&exp, &[]);
    assert_eq!(code, 0);
    let found = findings(&report, "unknown_attempt_files");
    assert_eq!(found.len(), 21, "20 examples and the count");
    assert_eq!(
        found
            .iter()
            .map(|f| f["more"].as_u64().unwrap())
            .sum::<u64>(),
        4980
    );
    let (_, all) = check_json(&exp, &["--all"]);
    assert_eq!(findings(&all, "unknown_attempt_files").len(), 5000);
    assert_eq!(exp.run(&["check", "--all"]).stdout().lines().count(), 5001);
}
