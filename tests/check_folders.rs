//! Issue 10: `labtrail check` compares the store's records with the run folders: what a record
//! expects and is missing is a problem (exit 3), what no record knows is a notice (exit 0).

mod common;
use common::*;
use serde_json::Value;

/// `labtrail check --json`, parsed, and its exit code.
fn check_json(exp: &Exp, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["check", "--json"];
    args.extend_from_slice(extra);
    let out = exp.run(&args);
    let json = serde_json::from_str(&out.stdout())
        .unwrap_or_else(|e| panic!("check --json: {e}: {}{}", out.stdout(), out.stderr()));
    (out.code(), json)
}

/// The findings of kind `kind`.
fn findings(report: &Value, kind: &str) -> Vec<Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == kind)
        .cloned()
        .collect()
}

/// A task that fails until the file `go` exists, and one that always succeeds.
fn gated() -> Exp {
    gated_tasks(r#"["ok", "gate"]"#)
}

/// The tasks `xs` (a TOML list): `gate` fails until the file `go` exists, the others succeed.
fn gated_tasks(xs: &str) -> Exp {
    Exp::new(&format!(
        r#"
[experiment]
name = "chk"
command = "test {{x}} != gate || test -e go || exit 3; echo '{{\"ok\": 1}}' > $LABTRAIL_RESULT"
[params]
x = {xs}
"#
    ))
}

fn key(exp: &Exp, x: &str) -> String {
    exp.tasks().iter().find(|t| t["params"]["x"] == x).unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string()
}

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
