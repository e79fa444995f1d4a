//! How an attempt's end is read: its outcome from its exit and what labtrail did meanwhile (a
//! stop, a time limit), and what it left (its result and metrics files).

use super::attempt::Running;
use crate::exec::process::Exit;
use crate::exec::run_dir::RunDir;
use crate::policy::Outcome;
use crate::protocol::{parse_metrics, parse_result};
use crate::provenance::attempt_end::AttemptFacts;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Reads how an attempt ended. `stopped_at`: when labtrail began stopping the run, if it did.
/// A time limit or a stop counts only if it came before the process ended: an end is reported
/// a little after it happens.
///
/// An attempt signalled by a stop or its time limit is interrupted or timed out even if it
/// exited 0 (a program that saves its state on SIGTERM and exits 0 has not finished its work:
/// it runs again on resume); its exit code is recorded as it is.
pub fn classify(
    r: &Running,
    exit: &Exit,
    stopped_at: Option<Instant>,
) -> (Outcome, Option<String>) {
    let before_end = |t: Option<Instant>| t.is_some_and(|t| t <= exit.at);
    let (timed_out, stopping) = (before_end(r.timed_out_at), before_end(stopped_at));
    let why = |what: &str| match exit.code {
        Some(0) => format!("{what}; it exited with code 0 after SIGTERM"),
        _ => what.to_string(),
    };
    match (exit.code, exit.signal) {
        _ if timed_out => (Outcome::Timeout, Some(why("time limit reached"))),
        _ if stopping => (Outcome::Interrupted, Some(why("stopped by labtrail"))),
        (Some(0), _) => (Outcome::Success, None),
        (Some(code), _) if code > 128 && code < 160 => {
            let name = nix::sys::signal::Signal::try_from(code - 128)
                .map(|s| s.as_str())
                .unwrap_or("?");
            let hint = if code - 128 == libc::SIGKILL {
                ", possibly by the out-of-memory killer"
            } else {
                ""
            };
            (
                Outcome::Failed,
                Some(format!(
                    "exit code {code}: the command was killed by signal {} ({name}){hint}",
                    code - 128
                )),
            )
        }
        (Some(code), _) => (Outcome::Failed, Some(format!("exit code {code}"))),
        (None, Some(sig)) => {
            let name = nix::sys::signal::Signal::try_from(sig)
                .map(|s| s.as_str())
                .unwrap_or("?");
            let hint = if sig == libc::SIGKILL {
                " (possibly the out-of-memory killer)"
            } else {
                ""
            };
            (
                Outcome::Killed,
                Some(format!("killed by signal {sig} ({name}){hint}")),
            )
        }
        (None, None) => (
            Outcome::Failed,
            Some("the process could not be waited for".into()),
        ),
    }
}

/// What an ended attempt left: its result (read only after a success) and its metric stream.
pub struct Output {
    /// `Ok(None)`: no result file; `Err`: one that cannot be read or is not JSON.
    pub result: Result<Option<String>, String>,
    pub metrics: Vec<String>,
    /// What was lost reading them, to record as a warning (metrics lines skipped, ...).
    pub warnings: Vec<String>,
    /// Its error (failed) or artifacts (done), recorded with its end.
    pub facts: Box<AttemptFacts>,
    /// Its logs, to remove if empty once its end is durable (none while processes it left may
    /// still write to them).
    pub logs_to_tidy: Vec<PathBuf>,
    /// Its task's folder held something after it (layout 3): recorded, so that `check` knows
    /// the folder is expected.
    pub kept_task_dir: bool,
}

impl Output {
    /// Nothing: an attempt that never started, or left neither result nor metrics file.
    pub fn none() -> Output {
        Output {
            result: Ok(None),
            metrics: Vec::new(),
            warnings: Vec::new(),
            facts: Box::default(),
            logs_to_tidy: Vec::new(),
            kept_task_dir: false,
        }
    }

    /// Reads the attempt's `result` and `metrics` files (paths inside `dir`). `success`: it
    /// exited 0; other attempts' result files are not read.
    pub fn read(dir: &RunDir, result: &Path, metrics: &Path, success: bool) -> Output {
        let stream = parse_metrics(dir.open_regular(metrics));
        Output {
            result: if success {
                parse_result(result, dir.open_regular(result))
            } else {
                Ok(None)
            },
            warnings: stream.warning(metrics).into_iter().collect(),
            metrics: stream.records,
            facts: Box::default(),
            logs_to_tidy: Vec::new(),
            kept_task_dir: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::AttemptFiles;
    use std::time::Duration;

    fn running(timed_out_at: Option<Instant>) -> Running {
        Running {
            index: 0,
            attempt: 1,
            pid: 1,
            host: String::new(),
            started: Instant::now(),
            started_at: String::new(),
            files: AttemptFiles::new(Path::new("/nowhere/k"), 1),
            deadline: None,
            kill_at: None,
            timed_out_at,
            slot: 1,
            devices: None,
        }
    }

    fn exit(code: i32, at: Instant) -> Exit {
        Exit {
            code: Some(code),
            at,
            ..Exit::never_started()
        }
    }

    /// An end is reported a little after it happens: a time limit or a stop that came in
    /// between does not change what the attempt did.
    #[test]
    fn a_limit_or_stop_after_the_end_does_not_count() {
        let t = Instant::now();
        let later = Some(t + Duration::from_millis(5));
        let earlier = Some(t - Duration::from_millis(5));
        let (outcome, reason) = classify(&running(later), &exit(2, t), later);
        assert_eq!(
            (outcome, reason.as_deref()),
            (Outcome::Failed, Some("exit code 2"))
        );
        let (outcome, _) = classify(&running(earlier), &exit(143, t), None);
        assert_eq!(outcome, Outcome::Timeout);
        let (outcome, _) = classify(&running(None), &exit(143, t), earlier);
        assert_eq!(outcome, Outcome::Interrupted);
    }

    /// Issue 9: a program that exits 0 on the SIGTERM of a stop or a time limit did not finish
    /// its work: interrupted (or timed out), with its exit code 0 in the reason; an exit 0 before
    /// the signal is a success.
    #[test]
    fn an_exit_0_after_a_stop_or_time_limit_is_not_a_success() {
        let t = Instant::now();
        let later = Some(t + Duration::from_millis(5));
        let earlier = Some(t - Duration::from_millis(5));
        let (outcome, reason) = classify(&running(None), &exit(0, t), earlier);
        assert_eq!(outcome, Outcome::Interrupted);
        assert!(reason.unwrap().contains("exited with code 0"));
        let (outcome, _) = classify(&running(earlier), &exit(0, t), earlier);
        assert_eq!(outcome, Outcome::Timeout);
        let (outcome, reason) = classify(&running(later), &exit(0, t), later);
        assert_eq!((outcome, reason), (Outcome::Success, None));
    }
}
