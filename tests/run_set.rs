//! Issue 14: `labtrail run --set PARAM=VALUES` replaces a parameter's values as if the file
//! said so, and the run's recorded file carries them.

mod common;
use common::Exp;

const FILE: &str = "[experiment]\nname = \"s\"\ncommand = \"echo {lr} {epochs} >> ledger.txt\"\n\n[params]\nlr = [0.1, 0.2]  # rates\nepochs = 25\n";

/// Issue 14: `--set` gives the tasks new keys (new values, new identity), `--dry-run` shows
/// them before, the run runs them, and the same command again is a no-op.
#[test]
fn set_runs_the_overridden_values_and_resumes_them() {
    let exp = Exp::new(FILE);
    exp.run_ok(&["run", "exp.toml", "-q"]);
    let before: Vec<String> = exp
        .tasks()
        .iter()
        .map(|t| t["key"].as_str().unwrap().into())
        .collect();
    let args = [
        "run",
        "exp.toml",
        "--set",
        "lr=0.5,1e-3",
        "--set",
        "epochs=5",
    ];
    let dry = exp.run_ok(&[&args[..], &["--dry-run"]].concat());
    let stdout = dry.stdout();
    let listed: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("  run"))
        .map(|l| l.split_whitespace().nth(2).unwrap())
        .collect::<Vec<_>>();
    assert_eq!(listed, ["lr=0.5", "lr=0.001"], "{}", dry.stdout());
    assert!(dry.stdout().contains("new task"), "{}", dry.stdout());
    let out = exp.run_ok(&args);
    assert!(
        out.stderr()
            .contains("--set lr=0.5,1e-3: the run records the file with these values"),
        "{}",
        out.stderr()
    );
    let mut ledger = exp.ledger("ledger.txt");
    ledger.sort();
    assert_eq!(ledger, ["0.001 5", "0.1 25", "0.2 25", "0.5 5"]);
    let now: Vec<serde_json::Value> = exp
        .tasks()
        .into_iter()
        .filter(|t| t["state"] == "done")
        .collect();
    assert!(
        now.iter()
            .all(|t| !before.contains(&t["key"].as_str().unwrap().to_string())),
        "new keys"
    );
    // `status --explain FILE --set` compares the run with the file as `--set` changes it.
    let explain = exp.run_ok(&[
        "status",
        "--explain",
        "exp.toml",
        "--set",
        "lr=0.5,1e-3",
        "--set",
        "epochs=5",
    ]);
    assert!(
        explain.stdout().contains("skip") && !explain.stdout().contains("  run "),
        "{}",
        explain.stdout()
    );
    let again = exp.run_ok(&args);
    assert!(
        again
            .stderr()
            .contains("All 2 tasks are done; nothing to run"),
        "{}",
        again.stderr()
    );
    assert_eq!(exp.ledger("ledger.txt").len(), 4);
}

/// Issue 14: the run's recorded experiment file has the overridden values and a comment line
/// saying which `--set` made them; the file on disk is untouched.
#[test]
fn the_recorded_file_carries_the_overrides() {
    let exp = Exp::new(FILE);
    exp.run_ok(&["run", "exp.toml", "-q", "--set", "lr={ range = [1, 3] }"]);
    let recorded: Vec<String> = exp.column("SELECT spec_text FROM runs");
    let text = &recorded[0];
    assert!(
        text.starts_with(
            "# labtrail run --set lr={ range = [1, 3] } (the file said lr = [0.1, 0.2])\n"
        ),
        "{text}"
    );
    assert!(text.contains("lr = { range = [1, 3] }  # rates"), "{text}");
    assert_eq!(std::fs::read_to_string(exp.file("exp.toml")).unwrap(), FILE);
    let mut ledger = exp.ledger("ledger.txt");
    ledger.sort();
    assert_eq!(ledger, ["1 25", "2 25"]);
}

/// Issue 14: an unknown parameter, a missing `=` or a value the grid refuses is a usage error
/// (exit 2) that lists the parameters or names the place, and nothing runs.
#[test]
fn bad_overrides_are_usage_errors() {
    let exp = Exp::new(FILE);
    let cases: [(&[&str], &str); 4] = [
        (
            &["--set", "seed=1"],
            "exp.toml has no parameter `seed`\n  help: its parameters are: lr, epochs",
        ),
        (&["--set", "lr"], "write PARAM=VALUES"),
        (&["--set", "lr=[1,"], "is not a TOML value"),
        (
            &["--set", "lr={range=[3,3]}"],
            "exp.toml:6:6: parameter `lr`: range = [3, 3] is empty",
        ),
    ];
    for (set, expected) in cases {
        let out = exp.run(&[&["run", "exp.toml"][..], set].concat());
        assert_eq!(out.code(), 2, "{set:?}: {}", out.stderr());
        assert!(
            out.stderr().contains(expected),
            "{set:?}:\n{}",
            out.stderr()
        );
    }
    assert!(exp.ledger("ledger.txt").is_empty());
}

/// The command between the backticks of the line of `text` that contains `marker`.
fn hinted(text: &str, marker: &str) -> String {
    let line = text.lines().find(|l| l.contains(marker)).expect(marker);
    line.split('`')
        .nth(1)
        .expect("a command in backticks")
        .to_string()
}

/// Runs `command` as a user pasting it into a shell would, with the built binary on PATH.
fn paste(exp: &Exp, command: &str) -> common::Out {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_labtrail"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap()
    );
    let out = std::process::Command::new("sh")
        .args(["-c", command])
        .current_dir(exp.path())
        .env("PATH", path)
        .env_remove("LABTRAIL_STORE")
        .output()
        .expect("sh");
    common::Out(out)
}

/// Issue 14 (review): the commands the hints give keep the `--set` overrides. "`labtrail run
/// exp.toml` runs what is left" after a slice of an overridden run, and "run the same command
/// again" after Ctrl+C, left the `--set` out: pasted, they went back to the file's values.
#[test]
fn hints_keep_the_overrides() {
    let exp = Exp::new("[experiment]\nname = \"s\"\ncommand = \"while [ -f hold ]; do sleep 0.05; done; echo {lr} {rep} >> ledger.txt\"\n\n[params]\nlr = [0.1, 0.2]\nrep = [\"a\", \"b\"]\n");
    let set = ["--set", "lr={ range = [1, 3] }"];
    let out = exp.run_ok(&[&["run", "exp.toml", "-q", "--only", "rep=a"][..], &set].concat());
    let rest = hinted(&out.stderr(), "runs what is left");
    assert_eq!(rest, "labtrail run exp.toml --set 'lr={ range = [1, 3] }'");
    let pasted = paste(&exp, &rest);
    assert_eq!(pasted.code(), 0, "{}", pasted.stderr());
    let mut ledger = exp.ledger("ledger.txt");
    ledger.sort();
    assert_eq!(
        ledger,
        ["1 a", "1 b", "2 a", "2 b"],
        "only the overridden grid ran"
    );

    exp.write("hold", "");
    let args = [
        &["run", "exp.toml", "--fresh", "--exclude", "rep=b"][..],
        &set,
    ]
    .concat();
    let runner = exp.spawn(&args);
    common::wait_until("a running task", std::time::Duration::from_secs(60), || {
        exp.tasks().iter().any(|t| t["state"] == "running")
    });
    common::signal(&runner, libc::SIGINT);
    let stopped = common::finish(runner);
    let again = hinted(&stopped.stderr(), "Run the same command again");
    assert_eq!(
        again,
        "labtrail run exp.toml --set 'lr={ range = [1, 3] }' --exclude rep=b"
    );
    std::fs::remove_file(exp.file("hold")).unwrap();
    let resumed = paste(&exp, &again);
    assert!(
        resumed.stderr().contains("Resuming run"),
        "{}",
        resumed.stderr()
    );
    assert_eq!(
        exp.ledger("ledger.txt").len(),
        6,
        "the slice of the override ran"
    );
}

/// Issue 14 (review): a `--set` value with a newline or an escape code runs, and the comment
/// line that records it in the run's file writes them out. Written raw, the escape code made
/// the recorded file unreadable (`error: exp.toml:1:27: ` with no message) and a newline ended
/// the comment, turning the rest of the value into TOML.
#[test]
fn control_characters_in_an_override_are_written_out_in_its_comment() {
    let exp = Exp::new(FILE);
    let out = exp.run(&[
        "run",
        "exp.toml",
        "-q",
        "--set",
        "epochs=a\u{1b}[1mb",
        "--set",
        "lr=x\n[run]",
    ]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let recorded: Vec<String> = exp.column("SELECT spec_text FROM runs");
    assert!(
        recorded[0].starts_with("# labtrail run --set epochs=a\\u{1b}[1mb (the file said epochs = 25)\n# labtrail run --set lr=x\\n[run] (the file said lr = [0.1, 0.2])\n"),
        "{}",
        recorded[0]
    );
    assert_eq!(exp.ledger("ledger.txt"), ["x", "[run] a\u{1b}[1mb"]);
    // The recorded file is read again by later commands.
    exp.run_ok(&["reset", "--all"]);
}

/// Issue 14 (review): after `reset` of a run made with `--set`, the hint to run the tasks again
/// keeps the overrides: pasted, it reruns the reset task with the run's values, not the file's.
#[test]
fn reset_hint_keeps_the_overrides() {
    let exp = Exp::new("[experiment]\nname = \"s\"\ncommand = \"echo {lr} >> ledger.txt\"\n\n[params]\nlr = [0.1, 0.2]\n");
    exp.run_ok(&["run", "exp.toml", "-q", "--set", "lr=7,8"]);
    let reset = exp.run_ok(&["reset", "lr=7"]);
    let again = hinted(&reset.stdout(), "will run them again");
    assert_eq!(again, "labtrail run exp.toml --set lr=7,8");
    let pasted = paste(&exp, &again);
    assert_eq!(pasted.code(), 0, "{}", pasted.stderr());
    let mut ledger = exp.ledger("ledger.txt");
    ledger.sort();
    assert_eq!(ledger, ["7", "7", "8"], "only the reset task ran again");
}
