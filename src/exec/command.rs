//! Running an external command with a time limit and telling its failure apart from its answer:
//! the scheduler's tools (`sbatch`, `squeue`, `sacct`, `scancel`) and, later, the probes a run's
//! provenance needs (`git`, `python`, `nvidia-smi`). A command that hangs (a scheduler that does
//! not answer, a `git` waiting on a network filesystem) is killed at its limit, never waited for
//! without end.

use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

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
    use std::os::unix::process::CommandExt;
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
    let output = match rx.recv_timeout(timeout) {
        Ok(r) => r.map_err(|e| CommandError::NotRun {
            command: command.clone(),
            detail: e.to_string(),
            absent: false,
        })?,
        Err(_) => {
            // The whole group it leads: a site's wrapper script and the program it started.
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
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
