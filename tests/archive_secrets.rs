//! Issue 12: a secret never reaches an archive. One canary token is placed where users really
//! leave them: in labtrail's environment (a secret name on the allowlist and a token-shaped
//! value under an innocent allowlisted name), in the experiment file (a comment and the
//! description, which no task runs with), in a dirty file of the repository, and in a task's
//! stderr (a failing task that prints its configuration). It must appear in none of the
//! archive's formats, in no `diff` output, and nowhere in the store's database.

mod common;

use common::Exp;
use std::process::Command;

/// A token of Hugging Face's shape: `hf_` and 34 letters.
const CANARY: &str = "hf_CanaryTokenZz9Qw8Er7Ty6Ui5Op4As3Df";

fn git(dir: &std::path::Path, args: &[&str]) {
    let ok = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .status()
        .expect("git")
        .success();
    assert!(ok, "git {args:?}");
}

fn experiment() -> Exp {
    let exp = Exp::new(&format!(
        r#"# the token for the hub is {CANARY}
[experiment]
name = "canary"
description = "uses {CANARY} to download"

[params]
seed = [1, 2]

[[stage]]
name = "train"
command = "python3 train.py {{seed}}"

[run]
retries = 0
"#
    ));
    exp.write(
        "train.py",
        r#"import os, sys
seed = int(sys.argv[1])
if seed == 2:
    print("config: token=" + os.environ.get("HF_TOKEN", ""), file=sys.stderr)
    raise RuntimeError("failed with token " + os.environ.get("HF_TOKEN", ""))
print("ok")
"#,
    );
    git(exp.path(), &["init", "-q"]);
    git(exp.path(), &["add", "-A"]);
    git(exp.path(), &["commit", "-qm", "init"]);
    // A dirty file: a config the user has not committed yet, holding the token.
    exp.write("secrets.yaml", &format!("hub_token: {CANARY}\n"));
    exp
}

fn run(exp: &Exp) {
    let out = exp
        .cmd(&["run", "exp.toml", "--fresh"])
        .env("HF_TOKEN", CANARY)
        .env("CUDA_CANARY_NOTE", CANARY)
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn no_canary(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    assert_eq!(
        text.matches(CANARY).count(),
        0,
        "{what} holds the canary token:\n{text}"
    );
}

/// Issue 12: the canary appears 0 times in every output and in the store's database.
#[test]
fn a_canary_token_reaches_no_archive_no_diff_and_not_the_database() {
    let exp = experiment();
    run(&exp);
    run(&exp);
    for format in ["md", "json", "html"] {
        let out = exp.run_ok(&["archive", "--format", format]);
        no_canary(
            &format!("archive --format {format}"),
            out.0.stdout.as_slice(),
        );
        assert!(
            out.stdout().contains("redacted"),
            "{format}: the redaction is named"
        );
    }
    let runs = exp.column::<String>("SELECT id FROM runs ORDER BY created_at");
    for format in ["text", "md", "json"] {
        let out = exp.run(&[
            "diff",
            &runs[0],
            &runs[runs.len() - 1],
            "--all",
            "--format",
            format,
        ]);
        assert!(out.code() <= 1, "{}", out.stderr());
        no_canary(&format!("diff --format {format}"), out.0.stdout.as_slice());
    }
    let store = exp.path().join(".labtrail");
    let _ = exp.run(&["check"]);
    for entry in std::fs::read_dir(&store).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("labtrail.db")
        {
            no_canary(&path.display().to_string(), &std::fs::read(&path).unwrap());
        }
    }
}

/// Issue 12 (found in review): secrets the tasks run with (a token in a command, a plain value
/// under a secret name in the experiment's `env`, a token-shaped parameter value) stay in the
/// store, which must run the tasks, but reach no archive format and no `diff` output: the
/// commands, the parameters, the labels and the experiment file's text are redacted there.
#[test]
fn secrets_the_tasks_run_with_reach_no_archive_and_no_diff() {
    const PLAIN: &str = "PlainNamedSecret99";
    let exp = Exp::new(&format!(
        r#"[experiment]
name = "used"
env = {{ HF_TOKEN = "{PLAIN}" }}

[params]
ds = ["{CANARY}", "public"]

[[stage]]
name = "s"
command = "echo --token ghp_abcdefghijklmnopqrstuvwxyz0123456789 {{ds}} $HF_TOKEN"
"#
    ));
    exp.run_ok(&["run", "exp.toml"]);
    exp.run_ok(&["run", "exp.toml", "--fresh"]);
    let runs = exp.column::<String>("SELECT id FROM runs ORDER BY created_at");
    let mut outputs = Vec::new();
    for format in ["md", "json", "html"] {
        outputs.push((
            format!("archive --format {format}"),
            exp.run_ok(&["archive", "--format", format]).stdout(),
        ));
    }
    for format in ["text", "md", "json"] {
        let out = exp.run(&["diff", &runs[0], &runs[1], "--all", "--format", format]);
        assert!(out.code() <= 1, "{}", out.stderr());
        outputs.push((format!("diff --format {format}"), out.stdout()));
    }
    for (what, text) in outputs {
        for secret in [PLAIN, CANARY, "ghp_abcdefghijklmnopqrstuvwxyz0123456789"] {
            assert!(!text.contains(secret), "{what} holds {secret}:\n{text}");
        }
    }
}

/// Issue 12 (found in review): `labtrail archive` to a terminal (a real one, made by util-linux's
/// `script`) writes no escape sequence a task wrote (an OSC 52 clipboard write in its error
/// line); written to a file, the Markdown is exact.
#[test]
fn an_archive_on_a_terminal_carries_no_escape_sequence() {
    let exp = Exp::new(
        "[experiment]\nname = \"esc\"\ncommand = \"printf 'ValueError: \\\\033]52;c;aGk=\\\\007 bad\\\\n' >&2; exit 1\"\n[run]\nretries = 0\n",
    );
    let out = exp.run(&["run", "exp.toml"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let line = format!("'{}' archive", env!("CARGO_BIN_EXE_labtrail"));
    let Ok(shown) = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .current_dir(exp.path())
        .stdin(std::process::Stdio::null())
        .output()
    else {
        eprintln!("no `script` (util-linux) here to make a terminal: not tested");
        return;
    };
    let shown = String::from_utf8_lossy(&shown.stdout).into_owned();
    assert!(shown.contains("ValueError"), "{shown}");
    assert!(
        !shown.contains('\u{1b}') && !shown.contains('\u{7}'),
        "{shown:?}"
    );
    exp.run_ok(&["archive", "-o", "a.md"]);
    let file = std::fs::read_to_string(exp.file("a.md")).unwrap();
    assert!(file.contains("ValueError"), "{file}");
}
