//! Issue 14: the README's "How to keep a long run alive", done as a user does it. An interactive
//! bash on a real pseudo-terminal (`script`) starts a run, and the terminal hangs up while the
//! tasks work, as when an SSH connection drops: bash passes the hangup on to its jobs, the kernel
//! to the foreground job. Each recipe the README gives either survives it or is stopped and
//! resumed by the same command, as the README's table says.

mod common;
use common::*;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Three tasks that start at once and end only when the test creates `go`: the hangup always
/// falls while they run, however slowly the machine goes.
fn waiting_tasks() -> Exp {
    Exp::new(
        r#"
[experiment]
name = "long"
command = "echo start >> started.txt; while [ ! -e go ]; do sleep 0.1; done; echo {i} >> ledger.txt"
[params]
i = [1, 2, 3]
[run]
workers = 3
"#,
    )
}

/// An interactive bash on a pseudo-terminal of its own, in the experiment folder. SIGHUP's
/// default action is restored first: a test suite started under `nohup` would otherwise hand
/// its ignored SIGHUP down to bash and to everything it starts.
fn terminal(exp: &Exp) -> Child {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new("script");
    cmd.args(["-q", "-c", "bash --norc --noprofile -i", "/dev/null"])
        .current_dir(exp.path())
        .env("HISTFILE", exp.file("bash_history"))
        .env_remove("LABTRAIL_STORE")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: only `signal`, which is async-signal-safe, runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGHUP, libc::SIG_DFL);
            Ok(())
        });
    }
    cmd.spawn().expect("script (util-linux) on PATH")
}

/// Types `line` into the terminal `term`, then hangs the terminal up once the three tasks run,
/// and waits until the shell has gone (it passes the hangup on to its jobs before it exits).
/// Then lets the tasks end.
fn hang_up_while_running(exp: &Exp, line: &str) {
    let mut term = terminal(exp);
    let typed = format!("echo $$ > bash.pid\n{line}\n");
    let stdin = term.stdin.as_mut().expect("stdin");
    stdin.write_all(typed.as_bytes()).expect("type");
    stdin.flush().expect("flush");
    wait_until("three tasks to start", Duration::from_secs(60), || {
        exp.ledger("started.txt").len() >= 3
    });
    let bash: i32 = std::fs::read_to_string(exp.file("bash.pid"))
        .expect("bash.pid")
        .trim()
        .parse()
        .expect("a pid");
    // Killing `script` closes the terminal's master side: the kernel hangs the terminal up.
    signal(&term, libc::SIGKILL);
    let _ = term.wait();
    wait_until("the shell to end", Duration::from_secs(30), || {
        // SAFETY: kill(2) with signal 0 only asks whether the process exists.
        unsafe { libc::kill(bash, 0) != 0 }
    });
    exp.write("go", "");
}

fn labtrail() -> &'static str {
    env!("CARGO_BIN_EXE_labtrail")
}

/// Whether a labtrail process still works in the experiment's folder (the runner, which
/// holds the run's lock until it has exited).
fn runner_alive(exp: &Exp) -> bool {
    let bin = std::fs::canonicalize(labtrail()).expect("the binary");
    let dir = std::fs::canonicalize(exp.path()).expect("the folder");
    std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .any(|pid| {
            let link = |what: &str| std::fs::read_link(format!("/proc/{pid}/{what}")).ok();
            link("exe").as_ref() == Some(&bin) && link("cwd").as_ref() == Some(&dir)
        })
}

/// Waits until every task of the run is done, or fails naming what the store says.
fn wait_all_done(exp: &Exp) {
    let store = exp.file(".labtrail");
    wait_until(
        "the run to finish every task",
        Duration::from_secs(60),
        || done_in_db(&store) == 3,
    );
    assert_eq!(
        exp.ledger("ledger.txt").len(),
        3,
        "every task ran to its end"
    );
}

/// The run was stopped by the hangup: its three tasks are interrupted, nothing is lost, and the
/// same command finishes them.
fn stopped_then_resumed(exp: &Exp) {
    wait_until(
        "the run to record its tasks interrupted",
        Duration::from_secs(60),
        || exp.count("interrupted") == 3,
    );
    let status = exp.run(&["status"]).stdout();
    assert!(status.contains("3 interrupted"), "{status}");
    wait_until(
        "the stopped runner to exit",
        Duration::from_secs(60),
        || !runner_alive(exp),
    );
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_eq!(exp.count("done"), 3);
}

/// Issue 14: a run in the foreground is stopped by the hangup, and the same command resumes it.
#[test]
fn a_hangup_stops_a_foreground_run_and_the_same_command_resumes_it() {
    let exp = waiting_tasks();
    let line = format!("{} run exp.toml > run.log 2>&1", labtrail());
    hang_up_while_running(&exp, &line);
    stopped_then_resumed(&exp);
}

/// Issue 14: `&` alone does not protect a run: bash passes the hangup on to its jobs.
#[test]
fn a_hangup_stops_a_background_job_of_the_shell() {
    let exp = waiting_tasks();
    let line = format!("{} run exp.toml > run.log 2>&1 &", labtrail());
    hang_up_while_running(&exp, &line);
    stopped_then_resumed(&exp);
}

/// Issue 14: `nohup labtrail run … &` finishes every task after the terminal hung up.
#[test]
fn a_run_started_with_nohup_survives_the_hangup() {
    let exp = waiting_tasks();
    let line = format!("nohup {} run exp.toml > run.log 2>&1 &", labtrail());
    hang_up_while_running(&exp, &line);
    wait_all_done(&exp);
}

/// Issue 14: `setsid labtrail run … < /dev/null &` has no terminal that could hang up.
#[test]
fn a_run_started_with_setsid_survives_the_hangup() {
    let exp = waiting_tasks();
    let line = format!(
        "setsid {} run exp.toml > run.log 2>&1 < /dev/null &",
        labtrail()
    );
    hang_up_while_running(&exp, &line);
    wait_all_done(&exp);
}

/// Issue 14: a job the shell disowned gets no hangup from it.
#[test]
fn a_disowned_run_survives_the_hangup() {
    let exp = waiting_tasks();
    let line = format!("{} run exp.toml > run.log 2>&1 & disown", labtrail());
    hang_up_while_running(&exp, &line);
    wait_all_done(&exp);
}
