//! Issue 14 (review): the live area against what a terminal does around it: keys typed while it
//! is drawn (Enter, Ctrl+C to stop the run), a terminal that cannot move the cursor
//! (`TERM=dumb`), a narrow window. A real pseudo-terminal (util-linux `script`): the keys go
//! through its line discipline, which turns Ctrl+C into SIGINT and echoes what is typed.

mod common;
mod live_common;

use common::{wait_until, Exp};
use live_common::OnTerminal;
use regex::Regex;
use std::time::Duration;

/// Tasks `x=…` that write a metrics line, then wait for the file `gate` (a SIGTERM ends them).
fn waiting_tasks(xs: &str) -> Exp {
    let exp = Exp::new(&format!(
        r#"[experiment]
name = "keys"
command = "sh task.sh {{x}}"

[params]
x = [{xs}]

[run]
workers = 3
"#
    ));
    exp.write(
        "task.sh",
        r#"printf '{"step": 7, "loss": 0.25}\n' >> "$LABTRAIL_METRICS"
while [ ! -e gate ]; do sleep 0.05; done
"#,
    );
    exp
}

/// A line of the bar: `⠒ 00:00:02 [=====>    ] 1/3 …`.
fn bar() -> Regex {
    Regex::new(r"\d\d:\d\d:\d\d \[[=> ]*\] \d+/\d+").unwrap()
}

/// Issue 14 (review): Enter, then Ctrl+C, typed while the live area is drawn: the run stops as
/// Ctrl+C asks, and no copy of the bar is left on the screen (the terminal's echo of the keys
/// used to move the cursor behind the area's back, and each redraw then left its top line).
#[test]
fn keys_typed_on_the_live_area_leave_no_stale_bar() {
    let exp = waiting_tasks("1, 2, 3, 4");
    let mut term = OnTerminal::typing(&exp, "run exp.toml", 100, 30, &[]);
    term.wait_for("three running tasks with their step", |l| {
        l.iter()
            .filter(|l| l.ends_with("step 7  loss 0.25"))
            .count()
            == 3
    });
    let before = term.out.lock().unwrap().len();
    term.type_keys(b"\r");
    wait_until("two redraws after Enter", Duration::from_secs(60), || {
        let out = term.out.lock().unwrap();
        String::from_utf8_lossy(&out[before..])
            .matches("(ETA")
            .count()
            >= 2
    });
    term.type_keys(b"\x03");
    let (code, _) = term.finish();
    assert_eq!(code, 130, "stopped by Ctrl+C");
    let screen = term.wrapped_screen().text();
    assert!(
        screen.iter().any(|l| l.contains("SIGINT received")),
        "{screen:#?}"
    );
    let stale: Vec<&String> = screen.iter().filter(|l| bar().is_match(l)).collect();
    assert!(stale.is_empty(), "bar lines left: {stale:#?}\n{screen:#?}");
    assert!(
        screen
            .last()
            .unwrap()
            .starts_with("Run the same command again to resume"),
        "{screen:#?}"
    );
}

/// Issue 14 (review): a terminal that cannot move its cursor (`TERM=dumb`: Emacs `M-x shell`)
/// gets the plain line per event of a pipe, not the live area's redraws printed one after the
/// other.
#[test]
fn a_dumb_terminal_gets_plain_lines() {
    let exp = waiting_tasks("1, 2");
    exp.write("gate", "");
    let mut term = OnTerminal::typing(&exp, "run exp.toml", 100, 30, &[("TERM", "dumb")]);
    let (code, screen) = term.finish();
    assert_eq!(code, 0, "{screen:#?}");
    assert!(
        !term.out.lock().unwrap().contains(&0x1b),
        "no escape sequence: {screen:#?}"
    );
    assert!(
        screen.iter().any(|l| l == "▶ x=1 (attempt 1)"),
        "{screen:#?}"
    );
    assert!(screen.iter().all(|l| !bar().is_match(l)), "{screen:#?}");
}

/// Issue 14 (review): `-q` keeps one status line on a terminal narrower than the bar's line
/// (60 columns here; the bar was 30 characters whatever the width, and the line wrapped): the
/// bar narrows or goes so that the line fits.
#[test]
fn quiet_keeps_one_status_line_on_a_narrow_terminal() {
    let exp = waiting_tasks("1, 2, 3, 4");
    let mut term = OnTerminal::typing(&exp, "-q run exp.toml", 60, 10, &[]);
    term.wait_for("the status line with three running", |l| {
        l.iter().any(|l| l.contains("3 running"))
    });
    let shown = term.wrapped_screen().text();
    assert_eq!(shown.len(), 1, "one line: {shown:#?}");
    assert!(
        shown[0].contains("0/4 0 done · 3 running (ETA —)"),
        "{shown:#?}"
    );
    exp.write("gate", "");
    let (code, _) = term.finish();
    assert_eq!(code, 0);
}
