//! Issue 9: the local runner's kill edges: what a task leaves running, what a dead runner's
//! attempts left, and how a task that handles SIGTERM is recorded.

mod common;
use common::*;
use std::time::Duration;

/// Whether `pid` is a live process (not gone, not a zombie waiting to be reaped).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(") ")
            .next()
            .is_some_and(|s| !s.starts_with('Z'))
    })
}

fn kill(pid: u32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// The pid a task wrote to `name`, once it is there.
fn pid_in(exp: &Exp, name: &str) -> u32 {
    wait_until(name, Duration::from_secs(20), || {
        std::fs::read_to_string(exp.file(name)).is_ok_and(|t| t.ends_with('\n'))
    });
    std::fs::read_to_string(exp.file(name))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn wait_started(exp: &Exp, n: usize) {
    wait_until("tasks to start", Duration::from_secs(20), || {
        exp.ledger("started.txt").len() >= n
    });
}

/// A program that saves its state on SIGTERM and exits 0, as a training script does.
const SAVER: &str = r#"sh -c 'trap "echo saved >> saved.txt; exit 0" TERM; echo start >> started.txt; sleep 300 & wait'"#;

/// Issue 9: a task that exits 0 after the SIGTERM of a stop is recorded with its real exit code
/// (0, not the 143 the task shell used to force), as interrupted: it did not finish its work,
/// and runs again on resume.
#[test]
fn a_task_that_exits_0_on_the_stops_sigterm_is_recorded_with_exit_code_0() {
    let exp = Exp::new(&format!(
        "[experiment]\nname = \"saver\"\ncommand = '''{SAVER}'''\n[params]\ni = [1]\n"
    ));
    let child = exp.spawn(&["run", "exp.toml", "--no-progress", "--grace", "60s"]);
    wait_started(&exp, 1);
    signal(&child, libc::SIGINT);
    let out = finish(child);
    assert_eq!(out.code(), 130, "{}", out.stderr());
    assert_eq!(exp.ledger("saved.txt"), ["saved"], "the program saved its state");
    let attempts = exp.attempts("i=1");
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["exit_code"], 0, "{:?}", attempts[0]);
    assert_eq!(attempts[0]["outcome"], "interrupted", "{:?}", attempts[0]);
    assert_eq!(exp.count("interrupted"), 1, "it runs again on resume");
}

/// Issue 9: the same at a time limit: exit code 0, outcome timeout.
#[test]
fn a_task_that_exits_0_on_its_time_limits_sigterm_is_recorded_as_timed_out_with_exit_code_0() {
    let exp = Exp::new(&format!(
        "[experiment]\nname = \"saver\"\ncommand = '''{SAVER}'''\n[params]\ni = [1]\n[run]\ntimeout = \"1s\"\n"
    ));
    let out = exp.run(&["run", "exp.toml", "--no-progress", "--grace", "60s"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert_eq!(exp.ledger("saved.txt"), ["saved"], "the program saved its state");
    let attempts = exp.attempts("i=1");
    assert_eq!(attempts[0]["exit_code"], 0, "{:?}", attempts[0]);
    assert_eq!(attempts[0]["outcome"], "timeout", "{:?}", attempts[0]);
}
