//! One attempt of one task: its environment, its files, how its end is read.

use super::placement::Placement;
use super::wake::Waker;
use super::Event;
use crate::exec::process::{self, Exit, Launch, Logs};
use crate::exec::run_dir::RunDir;
use crate::plan::upstream::UpstreamDir;
use crate::plan::Plan;
use crate::policy::Outcome;
use crate::protocol::{self, parse_metrics, parse_result, AttemptFiles};
use crate::provenance::attempt_end::AttemptFacts;
use crate::spec::Spec;
use crate::store::{now, Change};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// An attempt in flight.
pub struct Running {
    pub index: usize,
    pub attempt: u32,
    pub pid: u32,
    pub host: String,
    pub started: Instant,
    pub started_at: String,
    pub files: AttemptFiles,
    /// When the time limit strikes.
    pub deadline: Option<Instant>,
    /// When SIGKILL follows the SIGTERM already sent.
    pub kill_at: Option<Instant>,
    /// When the time limit struck, if it did.
    pub timed_out_at: Option<Instant>,
    /// The worker slot it ran in, and its `CUDA_VISIBLE_DEVICES` when the run hands out GPUs.
    pub slot: usize,
    pub devices: Option<String>,
}

impl Running {
    /// The store change that records this attempt's start.
    pub fn started_change(&self, key: &str) -> Change {
        Change::Started {
            key: key.to_string(),
            attempt: self.attempt,
            host: self.host.clone(),
            pid: self.pid,
            started_at: self.started_at.clone(),
            stdout: self.files.stdout.display().to_string(),
            stderr: self.files.stderr.display().to_string(),
        }
    }
}

/// One attempt to start.
pub(crate) struct Request {
    /// Index of the task in the plan.
    pub index: usize,
    pub attempt: u32,
    /// The task's own folder.
    pub task_dir: PathBuf,
    /// Its attempt files, not made yet.
    pub files: AttemptFiles,
    /// Its `LABTRAIL_UPSTREAM_<STAGE>` variables, their links not made yet.
    pub upstream: Vec<UpstreamDir>,
}

/// Creates the attempt's two logs in `dir`. The stdout log must not exist yet: one that does is
/// the trace of an attempt an earlier runner started, and the error is `AlreadyExists`.
pub(super) fn create_logs(files: &AttemptFiles, dir: &RunDir) -> std::io::Result<Logs> {
    Ok(Logs {
        stdout: dir
            .create_new(&files.stdout)
            .map_err(|e| naming(&files.stdout, e))?,
        stderr: dir
            .create(&files.stderr)
            .map_err(|e| naming(&files.stderr, e))?,
    })
}

/// `e`, its message prefixed with the path it is about (the kind kept: `AlreadyExists` means
/// something to the caller), so that the attempt's recorded reason names the path.
fn naming(path: &Path, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// What every launch needs besides its request.
pub(super) struct Context<'a> {
    pub spec: &'a Spec,
    pub plan: &'a Plan,
    pub run: &'a str,
    pub store_dir: &'a Path,
    /// The experiment file's folder, which stage working directories are relative to.
    pub base: &'a Path,
    /// The run's folder, which task folders and attempt files are made in.
    pub dir: &'a RunDir,
    /// Every attempt's stdin.
    pub devnull: &'a File,
    /// Asked before each start: no task starts once the store was moved or deleted.
    pub watch: crate::store::StoreWatch,
    /// Samples what each running attempt's process tree uses (one thread for the pool).
    pub sampler: &'a crate::exec::tree_usage::TreeSampler,
}

/// What a launch gives back: the attempt in flight, or the attempt that could not start (pid 0)
/// with the reason.
pub(super) type Launched = Result<Running, Box<(Running, std::io::Error)>>;

/// Prepares the task's folder and starts the attempt. On failure to start, returns the attempt
/// record (pid 0) with the error so it can be recorded as a failed attempt.
pub(super) fn launch(
    ctx: &Context,
    req: Request,
    logs: std::io::Result<Logs>,
    at: &Placement,
) -> Launched {
    let (spec, task) = (ctx.spec, &ctx.plan.tasks[req.index]);
    let stage = &spec.stages[task.stage];
    let mut r = Running {
        index: req.index,
        attempt: req.attempt,
        pid: 0,
        host: process::hostname(),
        started: Instant::now(),
        started_at: now(),
        deadline: stage.timeout.map(|t| Instant::now() + t),
        kill_at: None,
        timed_out_at: None,
        files: req.files,
        slot: at.slot,
        devices: at.devices.map(str::to_string),
    };
    let (logs, stdin) = match (logs, ctx.devnull.try_clone()) {
        (Ok(logs), Ok(stdin)) => (logs, stdin),
        (Err(e), _) | (_, Err(e)) => return Err(Box::new((r, e))),
    };
    // Usually made already, by a worker while its own attempt ran: then this is only a lookup.
    if let Err(e) = ctx.dir.make_dir(&req.task_dir) {
        return Err(Box::new((r, naming(&req.task_dir, e))));
    }
    let mut env = protocol::task_env(&task.identity(spec, ctx.run, ctx.store_dir));
    for up in &req.upstream {
        match up.materialize() {
            Ok(var) => env.push(var),
            Err(e) => return Err(Box::new((r, e))),
        }
    }
    env.extend(protocol::attempt_env(
        req.attempt,
        &req.task_dir,
        &r.files.result,
        &r.files.metrics,
    ));
    at.add_env(&mut env);
    let workdir = protocol::workdir(ctx.base, &stage.workdir);
    let command = at.command(stage, task);
    let launch = Launch {
        command: command.as_deref().unwrap_or(&task.command),
        workdir: &workdir,
        env,
        stdin,
        logs,
    };
    match process::spawn(launch) {
        Ok(pid) => {
            r.pid = pid;
            Ok(r)
        }
        Err(e) => Err(Box::new((r, e))),
    }
}

/// The records of an attempt an earlier runner started but never recorded: the runner records a
/// start in the next commit after spawning the process, so a runner killed in between leaves an
/// attempt that ran, possibly to its end, with no record. Its stdout log, made before the spawn,
/// is the trace; it is recorded as interrupted, without a pid.
pub fn unrecorded_start(key: &str, attempt_prefix: &Path, attempt: u32) -> [Change; 2] {
    let files = AttemptFiles::new(attempt_prefix, attempt);
    let t = now();
    [
        Change::Started {
            key: key.to_string(),
            attempt,
            host: process::hostname(),
            pid: 0,
            started_at: t.clone(),
            stdout: files.stdout.display().to_string(),
            stderr: files.stderr.display().to_string(),
        },
        Change::Finished {
            key: key.to_string(),
            attempt,
            ended_at: t,
            exit_code: None,
            signal: None,
            outcome: Outcome::Interrupted,
            reason: Some("an earlier runner stopped right after starting this attempt, before recording it: it may have run, even to its end".into()),
            state: crate::store::TaskState::Interrupted,
            result: None,
            max_rss_kb: None,
            user_cpu_s: None,
            sys_cpu_s: None,
            metrics: Vec::new(),
        },
    ]
}

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
}

impl Output {
    /// Nothing: an attempt that never started.
    pub fn none() -> Output {
        Output {
            result: Ok(None),
            metrics: Vec::new(),
            warnings: Vec::new(),
            facts: Box::default(),
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
        }
    }
}

/// Forwards the stop signals (SIGINT, SIGTERM, SIGHUP unless ignored: see
/// [`crate::exec::signals::stop_signals`]) to the loop as events.
pub(super) fn forward_signals(tx: Waker) -> std::io::Result<signal_hook::iterator::Handle> {
    let mut signals = signal_hook::iterator::Signals::new(crate::exec::signals::stop_signals())?;
    let handle = signals.handle();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                if tx.send([Event::Signal(sig, Instant::now())]).is_err() {
                    break;
                }
            }
        })?;
    Ok(handle)
}

#[cfg(test)]
mod tests {
    use super::*;
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
