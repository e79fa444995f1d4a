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
    assert_eq!(
        exp.ledger("saved.txt"),
        ["saved"],
        "the program saved its state"
    );
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
        "[experiment]\nname = \"saver\"\ncommand = '''{SAVER}'''\n[params]\ni = [1]\n[run]\ntimeout = \"2s\"\n"
    ));
    let out = exp.run(&["run", "exp.toml", "--no-progress", "--grace", "60s"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert_eq!(
        exp.ledger("saved.txt"),
        ["saved"],
        "the program saved its state"
    );
    let attempts = exp.attempts("i=1");
    assert_eq!(attempts[0]["exit_code"], 0, "{:?}", attempts[0]);
    assert_eq!(attempts[0]["outcome"], "timeout", "{:?}", attempts[0]);
}

/// Kills the processes a test left, however it ends.
struct Reaper(Vec<u32>);

impl Drop for Reaper {
    fn drop(&mut self) {
        self.0.iter().for_each(|&pid| kill(pid));
    }
}

/// The run's events of `kind`, as JSON.
fn events(exp: &Exp, kind: &str) -> Vec<serde_json::Value> {
    let out = exp.run(&["events", "--json"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let all: Vec<serde_json::Value> = serde_json::from_str(&out.stdout()).unwrap();
    all.into_iter().filter(|e| e["kind"] == kind).collect()
}

/// A task whose background child ignores SIGTERM (and says so once it does); the task shell
/// waits for it.
const STUBBORN_CHILD: &str = r#"sh -c 'trap "" TERM; echo $$ > child; exec sleep 1000' & while [ ! -s child ]; do sleep 0.02; done; echo start >> started.txt; wait"#;

fn stubborn(run_section: &str) -> Exp {
    Exp::new(&format!(
        "[experiment]\nname = \"stubborn\"\ncommand = '''{STUBBORN_CHILD}'''\n[params]\ni = [1]\n[run]\n{run_section}\n"
    ))
}

/// Issue 9: Ctrl+C's SIGTERM ends the task's shell at once, but its child ignores SIGTERM: the
/// task's process group stays on the kill schedule, and SIGKILL reaches the child at the end of
/// the grace period, before the runner exits.
#[test]
fn a_stop_kills_a_child_that_ignores_sigterm_after_its_shell_ended() {
    let exp = stubborn("");
    let runner = exp.spawn(&["run", "exp.toml", "--no-progress", "--grace", "1s"]);
    wait_started(&exp, 1);
    let child = pid_in(&exp, "child");
    let _reaper = Reaper(vec![child]);
    signal(&runner, libc::SIGINT);
    let out = finish(runner);
    assert_eq!(out.code(), 130, "{}", out.stderr());
    assert!(
        !alive(child),
        "the task's child outlived the run\n{}",
        out.stderr()
    );
    assert_eq!(exp.attempts("i=1")[0]["outcome"], "interrupted");
    let leaked = events(&exp, "leaked");
    assert_eq!(leaked.len(), 1, "{leaked:?}");
    let detail = leaked[0]["detail"].as_str().unwrap();
    assert!(detail.contains(&child.to_string()), "{detail}");
}

/// Issue 9: the same at a time limit.
#[test]
fn a_time_limit_kills_a_child_that_ignores_sigterm_after_its_shell_ended() {
    let exp = stubborn("timeout = \"1s\"");
    let out = exp.run(&["run", "exp.toml", "--no-progress", "--grace", "1s"]);
    let child = pid_in(&exp, "child");
    let _reaper = Reaper(vec![child]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert!(
        !alive(child),
        "the task's child outlived the run\n{}",
        out.stderr()
    );
    assert_eq!(exp.attempts("i=1")[0]["outcome"], "timeout");
}

/// Issue 9: a task that ends on its own and leaves a child running (one that ignores SIGTERM,
/// too): after the leak timeout the child is stopped (SIGTERM, SIGKILL after the grace period),
/// the task is still done, and the leak is an event naming the child.
#[test]
fn what_a_finished_task_leaves_in_its_group_is_killed_and_recorded() {
    let exp = Exp::new(
        r#"
[experiment]
name = "leaky"
command = '''sh -c 'trap "" TERM; exec sleep 1000' & echo $! > child; echo done >> ledger.txt'''
[params]
i = [1]
"#,
    );
    let out = exp.run(&["run", "exp.toml", "--no-progress", "--grace", "1s"]);
    let child = pid_in(&exp, "child");
    let _reaper = Reaper(vec![child]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        !alive(child),
        "the leaked child outlived the run\n{}",
        out.stderr()
    );
    assert_eq!(exp.count("done"), 1);
    let leaked = events(&exp, "leaked");
    assert_eq!(leaked.len(), 1, "{leaked:?}");
    let detail = leaked[0]["detail"].as_str().unwrap();
    assert!(detail.contains(&format!("pid {child}")), "{detail}");
    assert!(
        out.stderr().contains("left 1 process(es) running"),
        "{}",
        out.stderr()
    );
}

/// Issue 9: a child that left the task's process group with `setsid` is found by the run's
/// variables when the run ends (not only when the run is next resumed), stopped, and recorded.
#[test]
fn a_setsid_escapee_is_stopped_when_the_run_ends() {
    let exp = Exp::new(
        r#"
[experiment]
name = "escape"
command = '''setsid sh -c 'trap "" TERM; echo $$ > escapee; exec sleep 1000' & while [ ! -s escapee ]; do sleep 0.05; done'''
[params]
i = [1]
"#,
    );
    let out = exp.run(&["run", "exp.toml", "--no-progress", "--grace", "1s"]);
    let escapee = pid_in(&exp, "escapee");
    let _reaper = Reaper(vec![escapee]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        !alive(escapee),
        "the escapee outlived the run\n{}",
        out.stderr()
    );
    assert!(
        out.stderr().contains("left their process group"),
        "{}",
        out.stderr()
    );
    let escaped = events(&exp, "escaped");
    assert_eq!(escaped.len(), 1, "{escaped:?}");
    assert!(escaped[0]["detail"]
        .as_str()
        .unwrap()
        .contains(&escapee.to_string()));
}

/// Tasks that say they started, then (their first attempt only) wait for a `release` file.
fn waiter(name: &str) -> Exp {
    Exp::new(&format!(
        r#"
[experiment]
name = "{name}"
command = '''echo $$ > pid-{{i}}; echo '{{"step":1}}' >> "$LABTRAIL_METRICS"; echo start >> started.txt; while [ ! -f release ] && [ "$LABTRAIL_ATTEMPT" = 1 ]; do sleep 0.05; done; echo '{{"step":2}}' >> "$LABTRAIL_METRICS"; echo "$LABTRAIL_ATTEMPT" >> finished-{{i}}'''
[params]
i = [1, 2]
[run]
workers = 2
"#
    ))
}

/// Starts a run of `exp` (as `args`), waits for both tasks to be recorded as running, and
/// SIGKILLs the runner; returns the tasks' shells, still running.
fn orphans_of_a_killed_runner(exp: &Exp, args: &[&str]) -> Vec<u32> {
    let runner = exp.spawn(args);
    wait_started(exp, 2);
    wait_until("the starts to be recorded", Duration::from_secs(20), || {
        exp.count("running") == 2
    });
    signal(&runner, libc::SIGKILL);
    finish(runner);
    let shells: Vec<u32> = [1, 2]
        .iter()
        .map(|i| pid_in(exp, &format!("pid-{i}")))
        .collect();
    assert!(shells.iter().all(|&p| alive(p)), "the setup works");
    shells
}

/// Issue 9: attempts a runner on another host left open are not recorded as interrupted and
/// run again here while they may still be running there: the resume is refused (exit 4), naming
/// the host and `--force`; with `--force` they are. One machine has one host name, so the other
/// host is simulated by rewriting the hosts the store recorded for the dead runner's attempts.
#[test]
fn attempts_left_open_on_another_host_are_not_run_again_without_force() {
    let exp = waiter("hosts");
    let shells = orphans_of_a_killed_runner(&exp, &["run", "exp.toml", "--no-progress"]);
    let _reaper = Reaper(shells.clone());
    let db = rusqlite::Connection::open(exp.file(".labtrail/labtrail.db")).unwrap();
    db.execute("UPDATE attempts SET host = 'gpu-node-7'", [])
        .unwrap();
    drop(db);

    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 4, "{}", out.stderr());
    for what in ["2 attempt(s)", "host gpu-node-7", "--force"] {
        assert!(out.stderr().contains(what), "{what}: {}", out.stderr());
    }
    // Read from the database: the read commands show a dead runner's tasks as interrupted.
    let db = rusqlite::Connection::open(exp.file(".labtrail/labtrail.db")).unwrap();
    let open: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM attempts WHERE outcome IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(open, 2, "nothing was recorded");
    drop(db);
    assert!(exp.ledger("finished-1").is_empty() && exp.ledger("finished-2").is_empty());
    // The read commands agree with `run` (found in review): a free lock proves nothing about a
    // runner on another host, so its attempts are not shown as interrupted either.
    assert_eq!(exp.count("running"), 2, "{:?}", exp.tasks());
    // Nor does `reset` take them over (found in review: it recovered every open attempt, and
    // the next run ran the task it had not reset too).
    let reset = exp.run(&["reset", "i=1"]);
    assert_eq!(reset.code(), 4, "{}", reset.stderr());
    assert!(
        reset.stderr().contains("host gpu-node-7"),
        "{}",
        reset.stderr()
    );
    assert_eq!(
        exp.count("running"),
        2,
        "nothing recorded: {:?}",
        exp.tasks()
    );

    let out = exp.run(&[
        "run",
        "exp.toml",
        "--no-progress",
        "--force",
        "--grace",
        "5s",
    ]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr().contains("--force: 2 attempt(s)"),
        "{}",
        out.stderr()
    );
    assert_eq!(exp.count("done"), 2);
    assert_eq!(exp.attempts("i=1")[0]["outcome"], "interrupted");
}

/// Issue 9: a runner that reached the store through a symbolic link gave its tasks that path;
/// when it died, a resume through the real path still finds and stops its tasks.
#[test]
fn a_resume_through_another_path_stops_the_orphans_of_a_runner_that_used_a_symlink() {
    let exp = waiter("linked");
    let links = tempfile::tempdir().unwrap();
    let link = links.path().join("experiment");
    std::os::unix::fs::symlink(exp.path(), &link).unwrap();
    let linked_exp = link.join("exp.toml");
    let linked = linked_exp.to_str().unwrap();
    let shells = orphans_of_a_killed_runner(&exp, &["run", linked, "--no-progress"]);
    let _reaper = Reaper(shells.clone());

    let out = exp.run(&["run", "exp.toml", "--no-progress", "--grace", "5s"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    for pid in shells {
        assert!(
            !alive(pid),
            "task {pid} of the dead runner still runs\n{}",
            out.stderr()
        );
    }
    assert!(
        out.stderr().contains("leftover process(es)"),
        "{}",
        out.stderr()
    );
}

/// Issue 9: a task that outlived its killed runner and went on writing metrics: the resume
/// records the attempt as interrupted with every metric line it wrote, the ones after its
/// runner died included.
#[test]
fn metrics_written_after_the_runner_died_are_stored_when_the_attempt_is_recovered() {
    let exp = waiter("metrics");
    let shells = orphans_of_a_killed_runner(&exp, &["run", "exp.toml", "--no-progress"]);
    let _reaper = Reaper(shells);
    exp.write("release", "");
    wait_until("the orphans to finish", Duration::from_secs(20), || {
        exp.ledger("finished-1") == ["1"] && exp.ledger("finished-2") == ["1"]
    });

    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let metrics: Vec<String> =
        exp.column("SELECT record FROM metrics WHERE attempt = 1 ORDER BY task_key, line");
    assert_eq!(
        metrics,
        [
            r#"{"step":1}"#,
            r#"{"step":2}"#,
            r#"{"step":1}"#,
            r#"{"step":2}"#
        ]
    );
    assert_eq!(exp.attempts("i=1")[0]["outcome"], "interrupted");
}
