//! Issue 2, scenarios 3, 5 and 6: stopping on signals, reset, and the run lock.

mod common;
use common::*;
use std::time::{Duration, Instant};

/// Tasks sleep as many seconds as the file `delay` says (30 at first), so a resume can run the
/// very same tasks quickly. The delay is read before the task says it started: a stop signal
/// that came while `$(cat delay)` ran would miss the `sleep` started after it, and the task
/// shell, which waits for its running command before acting on TERM, would wait the sleep out.
fn sleeper(extra: &str) -> Exp {
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "sleepy"
command = "{extra} d=$(cat delay); echo start >> started.txt; sleep $d; echo {{i}} >> ledger.txt"
[params]
i = [1, 2, 3]
[run]
workers = 2
"#
    ));
    exp.write("delay", "30");
    exp
}

fn wait_started(exp: &Exp, n: usize) {
    wait_until("tasks to start", Duration::from_secs(20), || {
        exp.ledger("started.txt").len() >= n
    });
}

/// Scenario 3: SIGINT stops dispatching, SIGTERMs the tasks, records them interrupted, exits
/// 130; the next run runs them again.
#[test]
fn sigint_interrupts_running_tasks_and_resume_reruns_them() {
    let exp = sleeper("");
    let child = exp.spawn(&["run", "exp.toml", "--no-progress"]);
    wait_started(&exp, 2);
    signal(&child, libc::SIGINT);
    let out = finish(child);
    assert_eq!(out.code(), 130, "{}", out.stderr());
    assert!(out.stderr().contains("SIGINT received"), "{}", out.stderr());
    assert_eq!(exp.count("interrupted"), 2);
    assert_eq!(exp.count("pending"), 1, "the third task never started");
    assert!(exp.ledger("ledger.txt").is_empty());
    let events = exp.run(&["events", "--json"]).stdout();
    assert!(events.contains("stop_requested"), "{events}");

    let status = exp.run(&["status", "--explain"]).stdout();
    assert_eq!(status.matches("interrupted").count(), 2, "{status}");
    // Resume with quick tasks: the same, interrupted tasks run again.
    exp.write("delay", "0");
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr().contains("to run again: 2 interrupted"),
        "{}",
        out.stderr()
    );
    assert_eq!(exp.ledger("ledger.txt").len(), 3);
    let attempts: Vec<serde_json::Value> =
        serde_json::from_str(&exp.run(&["tasks", "i=1", "--attempts", "--json"]).stdout()).unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0]["attempt"]["outcome"], "interrupted");
    assert_eq!(attempts[1]["attempt"]["outcome"], "success");
}

/// Scenario 3: SIGTERM exits 143; a task that ignores SIGTERM is killed after the grace period.
#[test]
fn sigterm_with_a_stubborn_task_escalates_after_grace() {
    let exp = sleeper("trap '' TERM;");
    let child = exp.spawn(&["run", "exp.toml", "--no-progress", "--grace", "1s"]);
    wait_started(&exp, 2);
    let t0 = Instant::now();
    signal(&child, libc::SIGTERM);
    let out = finish(child);
    let took = t0.elapsed();
    assert_eq!(out.code(), 143, "{}", out.stderr());
    assert!(
        took >= Duration::from_millis(900),
        "the grace period was honoured ({took:?})"
    );
    assert!(
        took < Duration::from_secs(10),
        "SIGKILL followed the grace period ({took:?})"
    );
    assert_eq!(exp.count("interrupted"), 2);
    assert!(
        processes_of_store(&exp.file(".labtrail")).is_empty(),
        "no task survived"
    );
}

/// Scenario 3: a second Ctrl+C kills at once, without waiting for the grace period.
#[test]
fn second_sigint_kills_at_once() {
    let exp = sleeper("trap '' TERM;");
    let child = exp.spawn(&["run", "exp.toml", "--no-progress", "--grace", "60s"]);
    wait_started(&exp, 2);
    let t0 = Instant::now();
    signal(&child, libc::SIGINT);
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, libc::SIGINT);
    let out = finish(child);
    assert_eq!(out.code(), 130, "{}", out.stderr());
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "did not wait for the 60 s grace"
    );
    assert!(
        out.stderr().contains("killing 2 running task(s) now"),
        "{}",
        out.stderr()
    );
    assert_eq!(exp.count("interrupted"), 2);
}

/// Scenario 5: reset TASK and reset --failed mark tasks to run again; history is kept.
#[test]
fn reset_marks_tasks_to_run_again() {
    let exp = Exp::new(
        r#"
[experiment]
name = "reset"
command = "echo {rep} >> ledger.txt; [ {rep} != bad ]"
[params]
rep = ["stats", "spectral", "bad"]
"#,
    );
    assert_eq!(exp.run(&["run", "exp.toml", "-q"]).code(), 1);
    let usage = exp.run(&["reset"]);
    assert_eq!(
        usage.code(),
        2,
        "reset without tasks says what to do: {}",
        usage.stderr()
    );
    let unknown = exp.run(&["reset", "rep=nope"]);
    assert_eq!(unknown.code(), 2);
    assert!(
        unknown.stderr().contains("matches no task"),
        "{}",
        unknown.stderr()
    );

    let out = exp.run(&["reset", "rep=spectral"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(out.stdout().contains("reset 1 task"), "{}", out.stdout());
    assert_eq!(exp.run(&["reset", "--failed"]).code(), 0);
    assert_eq!(exp.count("pending"), 2);
    exp.run(&["run", "exp.toml", "-q"]);
    let mut ledger = exp.ledger("ledger.txt");
    ledger.sort();
    assert_eq!(ledger, ["bad", "bad", "spectral", "spectral", "stats"]);
    let attempts = exp
        .run(&["tasks", "rep=spectral", "--attempts", "--json"])
        .stdout();
    let attempts: Vec<serde_json::Value> = serde_json::from_str(&attempts).unwrap();
    assert_eq!(attempts.len(), 2, "the reset task keeps its first attempt");
    assert!(exp.run(&["events"]).stdout().contains("reset"));
}

/// Scenario 6: a second runner on the same run is refused with the holder's PID and host; a
/// stale lock left by a killed runner is taken over, and says so.
#[test]
fn second_runner_is_refused_and_a_stale_lock_is_taken_over() {
    let exp = sleeper("");
    let first = exp.spawn(&["run", "exp.toml", "--no-progress"]);
    wait_started(&exp, 2);
    let second = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(second.code(), 4, "{}", second.stderr());
    let host = nix::unistd::gethostname().unwrap().into_string().unwrap();
    let msg = second.stderr();
    assert!(msg.contains(&format!("PID {}", first.id())), "{msg}");
    assert!(msg.contains(&format!("host {host}")), "{msg}");
    let reset = exp.run(&["reset", "--all"]);
    assert_eq!(
        reset.code(),
        4,
        "reset is refused while a runner holds the run"
    );

    signal(&first, libc::SIGKILL);
    finish(first);
    exp.write("delay", "0");
    let third = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(third.code(), 0, "{}", third.stderr());
    assert!(
        third.stderr().contains("took over the lock"),
        "{}",
        third.stderr()
    );
    assert!(
        third.stderr().contains("no longer running"),
        "{}",
        third.stderr()
    );
    assert!(
        third.stderr().contains("found 0 of 3 tasks done"),
        "{}",
        third.stderr()
    );
}

/// Whether `pid` is a live process (not gone, not a zombie waiting to be reaped).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(") ")
            .next()
            .is_some_and(|s| !s.starts_with('Z'))
    })
}

/// A task's child that cleared its environment cannot be found by labtrail's variables; when the
/// runner died, resuming still stops it, through the task's process group.
///
/// Each task reads `delay` before it says it started: the test changes the file once both have
/// started, and a task that read it later would end on its own, leaving its child behind with no
/// running task around it: another scenario (a flake a clean-clone CI run met, 1 run in 8).
#[test]
fn resume_stops_what_orphaned_tasks_started_even_without_their_variables() {
    let exp = Exp::new(
        r#"
[experiment]
name = "hidden"
command = "env -i sleep 300 & echo $! > hidden-{i}; d=$(cat delay); echo start >> started.txt; [ $d = 0 ] || wait"
[params]
i = [1, 2]
[run]
workers = 2
"#,
    );
    exp.write("delay", "300");
    let first = exp.spawn(&["run", "exp.toml", "--no-progress"]);
    wait_started(&exp, 2);
    signal(&first, libc::SIGKILL);
    finish(first);
    let hidden: Vec<u32> = [1, 2]
        .iter()
        .map(|i| std::fs::read_to_string(exp.file(&format!("hidden-{i}"))).unwrap())
        .map(|pid| pid.trim().parse().unwrap())
        .collect();
    assert!(hidden.iter().all(|&pid| alive(pid)), "the setup works");

    exp.write("delay", "0");
    let out = exp.run(&["run", "exp.toml", "--no-progress", "--grace", "5s"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    for pid in &hidden {
        // The resumed run's own tasks start new hidden sleeps; the old ones must be gone.
        assert!(
            !alive(*pid),
            "process {pid} of the dead runner's task is still running: {:?}\n{}",
            std::fs::read_to_string(format!("/proc/{pid}/stat")),
            out.stderr()
        );
    }
    for i in [1, 2] {
        let pid = std::fs::read_to_string(exp.file(&format!("hidden-{i}"))).unwrap();
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid.trim().parse().unwrap()),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// Issue 9: `nohup labtrail run … &` survives the terminal closing. SIGHUP was ignored when
/// labtrail started, so it stays ignored: the hangup stops nothing, and the run ends on its own.
#[test]
fn a_run_started_with_nohup_ignores_the_hangup() {
    let exp = sleeper("");
    exp.write("delay", "1");
    let child = std::process::Command::new("nohup")
        .arg(env!("CARGO_BIN_EXE_labtrail"))
        .args(["run", "exp.toml", "--no-progress"])
        .current_dir(exp.path())
        .env_remove("LABTRAIL_STORE")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("nohup labtrail");
    wait_started(&exp, 2);
    signal(&child, libc::SIGHUP);
    let out = finish(child);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_eq!(
        exp.ledger("ledger.txt").len(),
        3,
        "every task ran to its end"
    );
}

/// Without nohup, a hangup still stops the run (exit 129), as the README says. The runner is
/// started with SIGHUP's default action whatever the test's own is: a suite run under `nohup`
/// (as CI scripts sometimes are) hands its ignored SIGHUP down, and labtrail rightly keeps it so.
#[test]
fn a_hangup_stops_a_run_started_without_nohup() {
    use std::os::unix::process::CommandExt;
    let exp = sleeper("");
    let mut cmd = exp.cmd(&["run", "exp.toml", "--no-progress"]);
    // SAFETY: only `signal`, which is async-signal-safe, runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGHUP, libc::SIG_DFL);
            Ok(())
        });
    }
    let child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn labtrail");
    wait_started(&exp, 2);
    signal(&child, libc::SIGHUP);
    let out = finish(child);
    assert_eq!(out.code(), 129, "{}", out.stderr());
}
