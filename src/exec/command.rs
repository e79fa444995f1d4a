//! Running an external command with a time limit and telling its failure apart from its answer:
//! the scheduler's tools (`sbatch`, `squeue`, `sacct`, `scancel`) and, later, the probes a run's
//! provenance needs (`git`, `python`, `nvidia-smi`). A command that hangs (a scheduler that does
//! not answer, a `git` waiting on a network filesystem) is killed at its limit, never waited for
//! without end.

use std::collections::BTreeSet;
use std::process::{Command, Output, Stdio};
use std::sync::{mpsc, Mutex};
use std::time::Duration;

/// The process groups of commands still running for one owner (a run's provenance capture),
/// so that the owner can kill them when it ends before they do: a command outliving labtrail
/// would run (or hang) on without anyone waiting for its answer.
#[derive(Debug)]
pub struct ProcessGroups {
    /// The group ids running, or `None` once [`ProcessGroups::kill_all`] was called.
    running: Mutex<Option<BTreeSet<i32>>>,
}

impl ProcessGroups {
    /// A registry with nothing running.
    pub fn new() -> ProcessGroups {
        ProcessGroups {
            running: Mutex::new(Some(BTreeSet::new())),
        }
    }

    /// Kills (SIGKILL) every group running, and every one started from now on.
    pub fn kill_all(&self) {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        for group in running.take().unwrap_or_default() {
            kill_group(group);
        }
    }

    /// Whether [`ProcessGroups::kill_all`] was called.
    pub fn killed(&self) -> bool {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none()
    }

    /// Registers `group`; false (and the group killed) when everything was killed already.
    fn add(&self, group: i32) -> bool {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        match running.as_mut() {
            Some(set) => set.insert(group),
            None => {
                kill_group(group);
                false
            }
        }
    }

    fn remove(&self, group: i32) {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(set) = running.as_mut() {
            set.remove(&group);
        }
    }
}

impl Default for ProcessGroups {
    fn default() -> ProcessGroups {
        ProcessGroups::new()
    }
}

/// SIGKILL to every process of `group`.
fn kill_group(group: i32) {
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(group),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// A command that gave no usable answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CommandError {
    /// It could not start, or could not be waited for; `absent` when the program does not
    /// exist (not installed on this machine).
    #[error("`{command}` failed: {detail}")]
    NotRun {
        command: String,
        detail: String,
        absent: bool,
    },
    /// It ran and exited unsuccessfully; `stderr` is what it said (or its exit status).
    #[error("`{command}` failed: {stderr}")]
    Failed { command: String, stderr: String },
    /// It did not end within its limit, and was killed.
    #[error("`{command}` did not answer within {seconds} s")]
    TimedOut { command: String, seconds: u64 },
}

/// Runs `program` with `args` (stdin closed), waits at most `timeout` and returns its standard
/// output. A command past its limit is killed (SIGKILL, with every process of its group) and
/// reaped in the background.
///
/// The command runs in a process group of its own: a Ctrl+C at the terminal (SIGINT to the
/// foreground group) stops labtrail, which then waits for the command's answer, instead of also
/// killing an `sbatch` whose job SLURM may already have accepted (issue 11).
pub fn run_timed(program: &str, args: &[&str], timeout: Duration) -> Result<String, CommandError> {
    run_timed_answer(program, args, timeout).map(|a| a.stdout)
}

/// What a command that exited successfully printed.
#[derive(Debug, Clone)]
pub struct Answer {
    /// What it printed on standard output.
    pub stdout: String,
    /// Some tools report an error here and still exit 0 (squeue for a user it cannot resolve).
    pub stderr: String,
}

/// [`run_timed`], with the standard error of a successful command too.
pub fn run_timed_answer(
    program: &str,
    args: &[&str],
    timeout: Duration,
) -> Result<Answer, CommandError> {
    let mut command = Command::new(program);
    command.args(args);
    let output = run_timed_command(&mut command, Stdio::piped(), timeout)?;
    Ok(Answer {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// [`run_timed`] for a command the caller built (its folder, its environment) whose standard
/// output goes to `stdout` (a pipe, or a file for an answer too large to hold), kept as bytes: a
/// `git diff` of a file in Latin-1 must come back byte for byte. The output of a command that
/// exited successfully.
pub fn run_timed_command(
    command: &mut Command,
    stdout: Stdio,
    timeout: Duration,
) -> Result<Output, CommandError> {
    run_timed_command_in(command, stdout, timeout, None)
}

/// [`run_timed_command`] for a probe whose process group is registered in `groups` while it
/// runs (killed with them), and which dies with labtrail (SIGKILL when the thread that
/// started it ends, as when labtrail itself is killed): a probe's answer is of no use to
/// anyone after that.
pub fn run_timed_command_in(
    command: &mut Command,
    stdout: Stdio,
    timeout: Duration,
    groups: Option<&ProcessGroups>,
) -> Result<Output, CommandError> {
    run_timed_inner(command, stdout, timeout, groups, None)
}

/// [`run_timed_command`] for a command that must be let clean up when it is past its limit
/// (`git`, which removes its `index.lock` on SIGTERM but cannot on SIGKILL): its group gets
/// SIGTERM first, and SIGKILL only when it is still there `grace` later.
pub fn run_timed_command_gently(
    command: &mut Command,
    stdout: Stdio,
    timeout: Duration,
    grace: Duration,
) -> Result<Output, CommandError> {
    run_timed_inner(command, stdout, timeout, None, Some(grace))
}

fn run_timed_inner(
    command: &mut Command,
    stdout: Stdio,
    timeout: Duration,
    groups: Option<&ProcessGroups>,
    grace: Option<Duration>,
) -> Result<Output, CommandError> {
    use std::os::unix::process::CommandExt;
    if groups.is_some() {
        let parent = std::process::id() as i32;
        // SAFETY: only async-signal-safe calls (prctl, getppid, _exit) between fork and exec.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // labtrail died before the prctl: nobody would kill this one.
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
    }
    let program = command.get_program().to_string_lossy().into_owned();
    let args: Vec<String> = command
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let command_line = format!("{program} {}", args.join(" "));
    let child = command
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| CommandError::NotRun {
            command: command_line.clone(),
            detail: e.to_string(),
            // ENOENT also comes from a script whose interpreter is missing: absent only when
            // the program itself is not there.
            absent: e.kind() == std::io::ErrorKind::NotFound && !program_exists(&program),
        })?;
    let command = command_line;
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    // A thread waits, so that the caller's wait can have a limit; it also reaps a killed child.
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    if let Some(groups) = groups {
        if !groups.add(pid as i32) {
            return Err(CommandError::NotRun {
                command,
                detail: "stopped: its owner ended".to_string(),
                absent: false,
            });
        }
    }
    // Unregistered however this function returns (a group id may be reused once reaped).
    struct Registered<'a>(Option<&'a ProcessGroups>, i32);
    impl Drop for Registered<'_> {
        fn drop(&mut self) {
            if let Some(groups) = self.0 {
                groups.remove(self.1);
            }
        }
    }
    let _registered = Registered(groups, pid as i32);
    let output = match rx.recv_timeout(timeout) {
        Ok(r) => r.map_err(|e| CommandError::NotRun {
            command: command.clone(),
            detail: e.to_string(),
            absent: false,
        })?,
        Err(_) => {
            if let Some(grace) = grace {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGTERM,
                );
                if rx.recv_timeout(grace).is_ok() {
                    return Err(CommandError::TimedOut {
                        command,
                        seconds: timeout.as_secs(),
                    });
                }
            }
            // The whole group it leads: a site's wrapper script and the program it started.
            kill_group(pid as i32);
            return Err(CommandError::TimedOut {
                command,
                seconds: timeout.as_secs(),
            });
        }
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
        let stderr = if stderr.is_empty() {
            // "exit status: 1", or "signal: 9 (SIGKILL)".
            output.status.to_string()
        } else {
            stderr
        };
        return Err(CommandError::Failed { command, stderr });
    }
    Ok(output)
}

/// Whether `program` names a file: a path as it is, a bare name in a folder of `PATH`.
fn program_exists(program: &str) -> bool {
    if program.contains('/') {
        return std::path::Path::new(program).exists();
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_a_failure_and_a_hang_are_told_apart() {
        let long = Duration::from_secs(10);
        assert_eq!(run_timed("echo", &["a", "b"], long).unwrap(), "a b\n");
        match run_timed("sh", &["-c", "echo why >&2; exit 3"], long) {
            Err(CommandError::Failed { stderr, .. }) => assert_eq!(stderr, "why"),
            other => panic!("{other:?}"),
        }
        match run_timed("sh", &["-c", "exit 4"], long) {
            // Issue 10 (review): said once, not "exit status exit status: 4".
            Err(CommandError::Failed { stderr, .. }) => assert_eq!(stderr, "exit status: 4"),
            other => panic!("{other:?}"),
        }
        let t = std::time::Instant::now();
        match run_timed("sleep", &["30"], Duration::from_millis(200)) {
            Err(CommandError::TimedOut { command, .. }) => assert_eq!(command, "sleep 30"),
            other => panic!("{other:?}"),
        }
        assert!(t.elapsed() < Duration::from_secs(5), "the hang was not cut");
        // Issue 11: in a process group of its own, out of reach of a terminal's Ctrl+C.
        let group = run_timed("sh", &["-c", "cut -d' ' -f5 /proc/$$/stat"], long).unwrap();
        assert_ne!(group.trim(), nix::unistd::getpgrp().to_string());
        // Issue 11: a wrapper past its limit goes with the program it started.
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let script = format!("sleep 30 & echo $! > {}; wait", pid_file.display());
        assert!(matches!(
            run_timed("sh", &["-c", &script], Duration::from_millis(300)),
            Err(CommandError::TimedOut { .. })
        ));
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let stat = format!("/proc/{}/stat", pid.trim());
        let gone = (0..250).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            std::fs::read_to_string(&stat).map_or(true, |s| s.contains(") Z "))
        });
        assert!(gone, "the wrapper's child outlived the time limit");
        assert!(matches!(
            run_timed("/no/such/program", &[], long),
            Err(CommandError::NotRun { absent: true, .. })
        ));
    }
}
