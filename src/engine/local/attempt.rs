//! One attempt of one task: its environment, its files, its start. How its end is read:
//! [`super::ending`].

use super::placement::Placement;
use super::wake::Waker;
use super::Event;
use crate::exec::process::{self, Launch, Logs};
use crate::exec::run_dir::RunDir;
use crate::plan::upstream::UpstreamDir;
use crate::plan::Plan;
use crate::policy::Outcome;
use crate::protocol::{self, AttemptFiles};
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
    /// Whether an ended attempt's empty task folder is removed (see
    /// [`crate::store::RunFolders::removes_empty_task_dirs`]).
    pub tidy_task_dirs: bool,
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
    let mut env = protocol::task_env(&ctx.plan.identity(req.index, spec, ctx.run, ctx.store_dir));
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
    // Rendered now, not held by the plan for every task (issue 15).
    let command = at
        .command(stage, &ctx.plan.value_list(req.index))
        .unwrap_or_else(|| ctx.plan.command(req.index, spec));
    let launch = Launch {
        command: &command,
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
