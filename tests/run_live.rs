//! Issue 14: what `labtrail run` shows on a terminal (a pseudo-terminal made by util-linux
//! `script`): the live area with the bar and one line per running task (elapsed time, last step
//! and loss from the task's real metrics file), the event lines scrolled above it, `-q` keeping
//! the bar alone; and the plain line-per-event output for pipes and `--no-progress`.
//!
//! What the terminal shows is rebuilt from the bytes written to it (`live_common::Screen`), so
//! that the snapshots are of the lines a user sees, not of every redraw.

mod common;
mod live_common;

use common::Exp;
use live_common::OnTerminal;
use regex::Regex;
use std::sync::Arc;
use std::time::Duration;

/// Tasks `x=1…` that write a metrics line, then wait for the file `gate`; `x=9` fails at once
/// with a Python-like traceback.
fn waiting_tasks(xs: &str, workers: usize) -> Exp {
    let exp = Exp::new(&format!(
        r#"[experiment]
name = "live"
command = "sh task.sh {{x}}"

[params]
x = [{xs}]

[run]
workers = {workers}
"#
    ));
    exp.write(
        "task.sh",
        r#"if [ "$1" = 9 ]; then
  echo 'Traceback (most recent call last):' >&2
  echo '  File "train.py", line 3, in <module>' >&2
  echo 'ValueError: learning rate must be positive' >&2
  exit 1
fi
echo "epoch 1 of 1"
printf '{"step": 6, "loss": 0.5}\n{"step": 7, "loss": 0.25, "acc": 0.9}\n' >> "$LABTRAIL_METRICS"
while [ ! -e gate ]; do sleep 0.05; done
"#,
    );
    exp
}

/// The lines of a snapshot with what changes from run to run replaced: the spinner and clock of
/// the bar, elapsed times, durations, the run id and log paths.
fn normalized(lines: &[String]) -> Vec<String> {
    let rules = [
        (r"^\S \d\d:\d\d:\d\d \[[=> ]+\] ", "[bar] "),
        (r"^ +\d+s  ", "  Ns  "),
        (r"\(\d+(\.\d+)?m?s\)", "(T)"),
        (
            r"log: /\S+/attempts/[0-9a-f]{16}-1\.stderr\.log$",
            "log: LOG",
        ),
        (r"live-\d{8}-\d{6}[^:\s]*", "RUN"),
        (r"\(store: .*\)$", "(store: S)"),
    ];
    lines
        .iter()
        .map(|l| {
            rules.iter().fold(l.clone(), |l, (re, to)| {
                Regex::new(re).unwrap().replace_all(&l, *to).into_owned()
            })
        })
        .collect()
}

const FAILED_LINE: &str =
    "✗ x=9: exit code 1 (attempt 1); stderr: ValueError: learning rate must be positive; log: LOG";

/// Issue 14: on a terminal, the running tasks are shown under the bar with their elapsed time
/// and the step and loss of their last metrics line; finished tasks scroll above (the failure
/// with its error line); at the end the area is gone and the summary follows the ✓ lines.
#[test]
fn live_area_shows_running_tasks_with_step_and_loss() {
    let exp = waiting_tasks("1, 2, 9", 3);
    let mut term = OnTerminal::start(&exp, "run exp.toml", 100, 30);
    let running = Regex::new(r"^ +([1-9]\d*s|\d+m\d\ds)  x=[12]  step 7  loss 0.25$").unwrap();
    let shown = term.wait_for(
        "two running tasks past their first second, and the failure",
        |l| {
            l.iter().filter(|l| running.is_match(l)).count() == 2
                && l.iter().any(|l| l.starts_with('✗'))
        },
    );
    let mut snapshot = normalized(&shown);
    snapshot[3..].sort();
    assert_eq!(
        snapshot,
        [
            "Starting run RUN: 3 tasks, 3 workers (store: S)",
            FAILED_LINE,
            "[bar] 1/3 0 done · 1 failed · 2 running (ETA —)",
            "  Ns  x=1  step 7  loss 0.25",
            "  Ns  x=2  step 7  loss 0.25",
        ],
        "{shown:#?}"
    );
    exp.write("gate", "");
    let (code, end) = term.finish();
    assert_eq!(code, 1, "a task failed");
    let mut end = normalized(&end);
    end[2..4].sort();
    assert_eq!(
        end,
        [
            "Starting run RUN: 3 tasks, 3 workers (store: S)",
            FAILED_LINE,
            "✓ x=1 (T)",
            "✓ x=2 (T)",
            "run RUN: 2/3 done, 1 failed",
            "See why: `labtrail tasks --state failed` and `labtrail logs TASK`; fix, then run the same command again to retry only those.",
        ],
        "the live area is cleared at the end"
    );
}

/// Issue 14: more running tasks than fit half the terminal: the first ones, then how many more.
#[test]
fn more_running_tasks_than_fit_show_how_many_more() {
    let exp = waiting_tasks("1, 2, 3, 4, 5, 6", 6);
    let mut term = OnTerminal::start(&exp, "run exp.toml", 100, 8);
    let shown = term.wait_for("the running tasks that fit, and the rest counted", |l| {
        l.iter().any(|l| l.contains("6 running"))
            && l.iter().filter(|l| l.contains("step 7")).count() == 3
    });
    let area = &normalized(&shown)[1..];
    assert_eq!(area[0], "[bar] 0/6 0 done · 6 running (ETA —)");
    assert_eq!(area.len(), 5, "{shown:#?}");
    assert!(
        area[1..4].iter().all(|l| l.ends_with("step 7  loss 0.25")),
        "{area:#?}"
    );
    assert_eq!(area[4], "  … and 3 more");
    exp.write("gate", "");
    let (code, end) = term.finish();
    assert_eq!(code, 0);
    assert_eq!(normalized(&end).last().unwrap(), "run RUN: 6/6 done");
}

/// Issue 14: `-q` on a terminal keeps a single status line, the bar; no event lines, no task
/// lines; at the end only the summary.
#[test]
fn quiet_on_a_terminal_keeps_one_status_line() {
    let exp = waiting_tasks("1, 2, 9", 3);
    let mut term = OnTerminal::start(&exp, "-q run exp.toml", 100, 30);
    let shown = term.wait_for("the bar with the failure counted", |l| {
        l.iter().any(|l| l.contains("1 failed · 2 running"))
    });
    assert_eq!(
        normalized(&shown),
        ["[bar] 1/3 0 done · 1 failed · 2 running (ETA —)"]
    );
    // Given time to draw what it must not (the metrics are read once a second): still the bar.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(term.screen().text().len(), 1, "{:#?}", term.screen().text());
    exp.write("gate", "");
    let (code, end) = term.finish();
    assert_eq!(code, 1);
    assert_eq!(
        normalized(&end),
        [
            "run RUN: 2/3 done, 1 failed",
            "See why: `labtrail tasks --state failed` and `labtrail logs TASK`; fix, then run the same command again to retry only those.",
        ]
    );
}

/// Issue 14: in a pipe, and with `--no-progress` on a terminal, one plain line per event as
/// before (no escape sequence, no live area); the failure line carries the error line there too.
#[test]
fn pipes_and_no_progress_keep_plain_lines() {
    let exp = waiting_tasks("1, 9", 1);
    exp.write("gate", "");
    let out = exp.run(&["run", "exp.toml"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let piped: Vec<String> = out.stderr().lines().map(str::to_string).collect();
    // A worker reports an attempt's end after it started its next one.
    assert_eq!(
        normalized(&piped),
        [
            "Starting run RUN: 2 tasks, 1 workers (store: S)",
            "▶ x=1 (attempt 1)",
            "▶ x=9 (attempt 1)",
            "✓ x=1 (T)",
            FAILED_LINE,
            "run RUN: 1/2 done, 1 failed",
            "See why: `labtrail tasks --state failed` and `labtrail logs TASK`; fix, then run the same command again to retry only those.",
        ]
    );
    let mut term = OnTerminal::start(&exp, "--no-progress run exp.toml --fresh", 100, 30);
    let raw = Arc::clone(&term.out);
    let (code, end) = term.finish();
    assert_eq!(code, 1);
    let (mut end, mut piped) = (normalized(&end), normalized(&piped));
    end.sort();
    piped.sort();
    assert_eq!(end, piped);
    let raw = raw.lock().unwrap();
    assert!(!raw.contains(&0x1b), "no escape sequence without progress");
}
