//! Issue 14: `labtrail logs TASK` shows the end of stderr first for an attempt that did not
//! succeed (where the exception is), then stdout and the whole stderr; `--stdout`, `--stderr`
//! and `--follow` keep working.

mod common;

use common::Exp;

/// `x=1` writes 50 lines of stdout and 40 of stderr ending in a traceback, then fails; `x=2`
/// writes 3 lines of stderr and fails; `x=3` succeeds, writing to both.
fn ran() -> Exp {
    let exp = Exp::new(
        r#"[experiment]
name = "logs"
command = "sh task.sh {x}"

[params]
x = [1, 2, 3]
"#,
    );
    exp.write(
        "task.sh",
        r#"case "$1" in
1) for i in $(seq 1 50); do echo "out $i"; done
   for i in $(seq 1 37); do echo "warning $i" >&2; done
   echo 'Traceback (most recent call last):' >&2
   echo '  File "train.py", line 3, in <module>' >&2
   echo 'ValueError: learning rate must be positive' >&2
   exit 1 ;;
2) echo "out"; printf 'one\ntwo\nKeyError: x' >&2; exit 3 ;;
3) echo "out"; echo "a warning" >&2 ;;
esac
"#,
    );
    let out = exp.run(&["run", "exp.toml", "-j", "1"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    exp
}

/// The headers with the attempt files' paths replaced by their kind.
fn shown(exp: &Exp, args: &[&str]) -> String {
    let out = exp.run(args);
    assert_eq!(out.code(), 0, "{args:?}: {}", out.stderr());
    let re = regex::Regex::new(r"/\S+/attempts/[0-9a-f]{16}-1\.(stdout|stderr)\.log").unwrap();
    re.replace_all(&out.stdout(), "$1").into_owned()
}

fn lines(prefix: &str, range: std::ops::RangeInclusive<u32>) -> String {
    range.map(|i| format!("{prefix} {i}\n")).collect()
}

/// Issue 14: a failed attempt with a long stderr: its last 20 lines under a header saying how
/// it ended, then stdout, then the whole stderr.
#[test]
fn a_failed_attempt_shows_the_stderr_tail_first() {
    let exp = ran();
    let traceback = "Traceback (most recent call last):\n  File \"train.py\", line 3, in <module>\nValueError: learning rate must be positive\n";
    let expected = format!(
        "==> stderr: last 20 lines (attempt 1 failed: exit code 1; the whole file follows stdout) <==\n{}{traceback}==> stdout <==\n{}==> stderr <==\n{}{traceback}",
        lines("warning", 21..=37),
        lines("out", 1..=50),
        lines("warning", 1..=37),
    );
    assert_eq!(shown(&exp, &["logs", "x=1"]), expected);
    // An attempt that has ended is shown the same when followed.
    assert_eq!(shown(&exp, &["logs", "x=1", "--follow"]), expected);
    // One file asked for: that file alone, whole, as before.
    assert_eq!(
        shown(&exp, &["logs", "x=1", "--stderr"]),
        format!("{}{traceback}", lines("warning", 1..=37))
    );
    assert_eq!(
        shown(&exp, &["logs", "x=1", "--stdout"]),
        lines("out", 1..=50)
    );
}

/// Issue 14: a stderr of 20 lines or fewer comes whole, before stdout (its last line, without a
/// newline, does not run into the next header); a done attempt shows stdout first, as before.
#[test]
fn a_short_stderr_comes_whole_and_a_done_attempt_is_unchanged() {
    let exp = ran();
    assert_eq!(
        shown(&exp, &["logs", "x=2"]),
        "==> stderr (attempt 1 failed: exit code 3) <==\none\ntwo\nKeyError: x\n==> stdout <==\nout\n"
    );
    assert_eq!(
        shown(&exp, &["logs", "x=3"]),
        "==> stdout <==\nout\n==> stderr <==\na warning\n"
    );
}

/// Issue 14: `--help` says what comes first.
#[test]
fn help_says_stderr_comes_first_for_a_failed_attempt() {
    let help = shown(&Exp::new(""), &["logs", "--help"]);
    assert!(
        help.contains("the end of its stderr comes") && help.contains("first"),
        "{help}"
    );
}
