//! Issue 14: `labtrail tasks TASK --command` prints a shell snippet that, run with `sh`, does
//! what the task's latest attempt did: same folder, same variables, same command.

mod common;
use common::*;
use std::process::Command;

/// A `train` stage that fails its first attempt and a fan-in `summary` after it; each task
/// records its working folder and the variables it got, then writes a result from them. The
/// declared variable needs quoting (a space, quotes, a `$`).
const EXP: &str = r#"
[experiment]
name = "repro"
env = { MY_NOTE = "it's \"quoted\" $HOME and spaced" }
[params]
lr = [0.1, 0.01]
[[stage]]
name = "train"
workdir = "code"
command = "sh ../task.sh {lr}"
[[stage]]
name = "summary"
params = []
after = ["train"]
command = "sh ../task.sh all"
workdir = "code"
[run]
retries = 1
backoff = "0s"
"#;

/// `LABTRAIL_SLOT` is left out: this run has no GPUs and no `{slot}`, so the attempt's slot is
/// not recorded and the snippet says 1 (see tasks_command_placement.rs). So is
/// `LABTRAIL_REQUIRE_CHROMIUM`: scripts/test.sh exports it, the task inherits it from the runner,
/// and it is not labtrail's (a snippet run by hand in another shell would not have it either).
const TASK: &str = r#"
if [ "$LABTRAIL_STAGE" = train ] && [ "$LABTRAIL_ATTEMPT" = 1 ]; then exit 3; fi
{ pwd; env | grep -E '^(LABTRAIL_|MY_)' | grep -v -E '^LABTRAIL_(SLOT|REQUIRE_CHROMIUM)=' | sort; } > "$LABTRAIL_TASK_DIR/seen.txt"
ls "${LABTRAIL_UPSTREAM_TRAIN:-/nonexistent}" > "$LABTRAIL_TASK_DIR/upstream.txt" 2>/dev/null
printf '{"arg": "%s", "attempt": %s}\n' "$1" "$LABTRAIL_ATTEMPT" > "$LABTRAIL_RESULT"
"#;

fn ran() -> Exp {
    let exp = Exp::new(EXP);
    std::fs::create_dir(exp.file("code")).unwrap();
    exp.write("task.sh", TASK);
    exp.run_ok(&["run", "exp.toml", "--no-progress"]);
    exp
}

/// The value of `export NAME=…` in a snippet, unquoted by a shell.
fn exported(snippet: &str, name: &str) -> String {
    let line = snippet
        .lines()
        .find(|l| l.starts_with(&format!("export {name}=")))
        .unwrap_or_else(|| panic!("no {name} in\n{snippet}"));
    let out = Command::new("sh")
        .args(["-c", &format!("{line}; printf %s \"${name}\"")])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

/// Issue 14: the snippet of a task's latest attempt (the second: the first failed), run with
/// `sh` from elsewhere with an empty environment, sees the same folder and the same variables
/// and writes the same result file, where the attempt wrote it.
#[test]
fn the_snippet_does_what_the_attempt_did() {
    let exp = ran();
    let out = exp.run_ok(&["tasks", "lr=0.01", "--command"]);
    let snippet = out.stdout();
    assert!(snippet.contains("attempt 2 of run"), "{snippet}");
    assert!(snippet.ends_with("\nsh ../task.sh 0.01\n"), "{snippet}");
    assert_eq!(
        exported(&snippet, "MY_NOTE"),
        "it's \"quoted\" $HOME and spaced"
    );
    let result = exported(&snippet, "LABTRAIL_RESULT");
    assert!(result.ends_with("-2.result.json"), "{result}");
    let seen = std::path::Path::new(&exported(&snippet, "LABTRAIL_TASK_DIR")).join("seen.txt");
    let before = (
        std::fs::read_to_string(&seen).unwrap(),
        std::fs::read_to_string(&result).unwrap(),
    );
    assert!(before.0.contains("MY_NOTE=it's"), "{}", before.0);
    std::fs::remove_file(&seen).unwrap();
    std::fs::remove_file(&result).unwrap();
    run_by_hand(&snippet);
    let after = (
        std::fs::read_to_string(&seen).unwrap(),
        std::fs::read_to_string(&result).unwrap(),
    );
    assert_eq!(after, before);
}

/// Issue 14: a fan-in task's snippet points at the folder of links to its upstream tasks, as
/// its attempt did.
#[test]
fn the_snippet_of_a_fan_in_task_sees_its_upstream_tasks() {
    let exp = ran();
    let snippet = exp.run_ok(&["tasks", "summary", "--command"]).stdout();
    let dir = std::path::PathBuf::from(exported(&snippet, "LABTRAIL_TASK_DIR"));
    let before = std::fs::read_to_string(dir.join("upstream.txt")).unwrap();
    assert_eq!(before, "lr=0.01\nlr=0.1\n");
    std::fs::remove_file(dir.join("upstream.txt")).unwrap();
    std::fs::remove_file(dir.join("seen.txt")).unwrap();
    let seen_before = exp.run_ok(&["tasks", "summary", "--command"]).stdout();
    run_by_hand(&seen_before);
    assert_eq!(
        std::fs::read_to_string(dir.join("upstream.txt")).unwrap(),
        before
    );
    assert!(std::fs::read_to_string(dir.join("seen.txt"))
        .unwrap()
        .contains("LABTRAIL_UPSTREAM_TRAIN="));
}

/// Issue 14: a TASK that matches several tasks is refused with the list, as `logs` does; a
/// task that never ran has nothing to reproduce; TASK is required.
#[test]
fn several_matches_or_none_are_refused() {
    let exp = ran();
    let out = exp.run(&["tasks", "train", "--command"]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(
        out.stderr().contains("`train` matches 2 tasks"),
        "{}",
        out.stderr()
    );
    assert!(
        out.stderr().contains("train/lr=0.1\n") && out.stderr().contains("train/lr=0.01\n"),
        "{}",
        out.stderr()
    );
    assert_eq!(out.stdout(), "");
    let out = exp.run(&["tasks", "--command"]);
    assert_eq!(out.code(), 2);
    assert!(
        out.stderr().contains("--command needs TASK"),
        "{}",
        out.stderr()
    );

    let never = Exp::new(
        "[experiment]\nname = \"n\"\n[[stage]]\nname = \"a\"\ncommand = \"exit 3\"\n\
         [[stage]]\nname = \"b\"\nafter = [\"a\"]\ncommand = \"true\"\n[run]\nretries = 0\n",
    );
    assert_eq!(never.run(&["run", "exp.toml", "--no-progress"]).code(), 1);
    let out = never.run(&["tasks", "b", "--command"]);
    assert!(
        out.code() == 2 && out.stderr().contains("has not run yet"),
        "{}",
        out.stderr()
    );
}
