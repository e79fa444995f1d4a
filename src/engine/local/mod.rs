//! The local runner: hands ready tasks to a pool of worker threads (one per worker slot), records
//! every state change durably before reporting it, applies the policy, and stops cleanly on
//! signals.
//!
//! Workers start attempts, wait for their processes and report (`workers.rs`); the loop handles
//! what they report, signals and time limits, and keeps their queue filled (`turn.rs`,
//! `news.rs`). The changes it makes are committed by a writer thread, one transaction per commit
//! window (group commit), and reported only once that transaction is durable: a crash at any
//! point loses at most work that was never reported as done, and no task waits for an fsync.
//!
//! ```text
//!  signals ─┐                      ┌──────────── Queue (attempts to start) ◄────────┐
//!           ▼                      ▼                                                │
//!   wake pipe ──► Loop (turn.rs: ready tasks, time limits; news.rs: each Event) ────┘
//!     ▲   ▲          │ changes per 50 ms window        ▲
//!     │   │          ▼                                 │ Started / Ended / NotStarted /
//!     │   └── commit thread (Store::apply) ─ Committed │ Taken / Returned
//!     └──────────────────────────────────────── workers (workers.rs: start, wait, read files)
//! ```
//!
//! `handed` counts the attempts given to the queue that no worker has reported over yet; the
//! run is drained when it is 0, whatever the threads are doing, and once what ended attempts
//! left in their process groups is gone (`leftovers.rs`, which also stops, when the run ends,
//! what left its group).

pub(crate) mod attempt;
mod books;
mod devices;
mod ending;
mod error;
pub mod gpus;
mod graph;
mod leftovers;
mod news;
mod placement;
mod queue;
mod recover;
mod resources;
mod turn;
mod wake;
mod workers;

pub use error::RunError;
pub use recover::{recover, Recovery};

use crate::exec::process::Exit;
use crate::exec::run_dir::RunDir;
use crate::plan::Plan;
use crate::progress::{Counts, Reporter};
use crate::spec::Spec;
use crate::store::fault::{fault_injection_crash_point, fault_injection_pause_point};
use crate::store::Store;
use books::Books;
use graph::Graph;
use std::collections::BTreeMap;
use std::sync::mpsc;
use std::time::Duration;

/// How long changes gather before they are handed to the writer (counted from the last commit's
/// end; changes made while a commit is in flight wait for it too).
const COMMIT_WINDOW: Duration = Duration::from_millis(50);

/// Settings of one invocation.
pub struct RunConfig {
    pub workers: usize,
    pub grace: Duration,
    /// The GPUs the workers share out (see [`gpus::resolve`]); `None`: none are handed out.
    pub devices: Option<gpus::Devices>,
}

/// What one invocation did.
#[derive(Debug, Default)]
pub struct RunReport {
    pub total: u64,
    pub skipped: u64,
    pub done: u64,
    pub failed: u64,
    pub blocked: u64,
    pub interrupted: u64,
    pub ran: u64,
    /// The signal that stopped the run, if any.
    pub stopped_by: Option<i32>,
}

impl RunReport {
    /// The process exit code: 0 all done, 1 some task failed or is blocked, 128+N stopped by
    /// signal N.
    pub fn exit_code(&self) -> i32 {
        match self.stopped_by {
            Some(sig) => 128 + sig,
            None if self.failed > 0 || self.blocked > 0 => 1,
            None => 0,
        }
    }
}

/// The workers a run of `to_run` tasks gets when `requested` are asked for: a worker is a thread,
/// so none for tasks that will never come (`-j 100000` on three tasks), and at least one.
pub fn workers_for(requested: usize, to_run: usize) -> usize {
    requested.min(to_run).max(1)
}

/// Events the loop waits for.
pub(crate) enum Event {
    /// A stop signal, and when it came: a task that ends after that was signalled too (a
    /// session's SIGTERM reaches the runner and its tasks at once).
    Signal(i32, std::time::Instant),
    /// The writer thread committed the batch in flight (or failed to).
    Committed(Result<(), RunError>),
    /// A worker started an attempt.
    Started(Box<attempt::Running>),
    /// The process of a started attempt ended, and left this; `lingering`: its process group
    /// still had processes in it when it was reaped.
    Ended {
        pid: u32,
        exit: Exit,
        /// What its process tree used, as sampled (boxed: the event stays small).
        usage: Box<crate::exec::tree_usage::TreeUsage>,
        output: ending::Output,
        lingering: bool,
    },
    /// An attempt could not start: its record (pid 0) and why.
    NotStarted(Box<(attempt::Running, std::io::Error)>),
    /// The attempt's number is taken: its stdout log exists, left by a runner that started it
    /// and died before recording it.
    Taken(Box<attempt::Request>),
    /// A worker did not start this attempt because the run is stopping.
    Returned(Box<attempt::Request>),
    /// A thread (named) panicked: the run cannot go on; it was aborted (see `Queue::abort`).
    Broken(&'static str),
}

/// Runs every task of `plan` that is not done, in run `run`.
pub fn execute(
    store: &mut Store,
    run: &str,
    spec: &Spec,
    plan: &Plan,
    cfg: &RunConfig,
    rep: &Reporter,
) -> Result<RunReport, RunError> {
    execute_within(store, run, spec, plan, cfg, rep, None)
}

/// Runs every task of `plan` that is in `within` (`None`: all; see [`Graph::new`]) and is not
/// done, in run `run`; the report counts the tasks of `within` only.
pub fn execute_within(
    store: &mut Store,
    run: &str,
    spec: &Spec,
    plan: &Plan,
    cfg: &RunConfig,
    rep: &Reporter,
    within: Option<&[bool]>,
) -> Result<RunReport, RunError> {
    let states = store.plan_task_states(run, plan.tasks.len(), |i| plan.tasks[i].key.as_bytes())?;
    let (graph, skipped) = Graph::new(plan, |i| states[i].0, within);
    let total = within.map_or(plan.tasks.len(), |w| w.iter().filter(|&&x| x).count());
    let cfg = &RunConfig {
        workers: workers_for(cfg.workers, total - skipped),
        grace: cfg.grace,
        devices: cfg.devices.clone(),
    };
    let attempts: Vec<u32> = states.iter().map(|s| s.1).collect();
    drop(states);
    let base = std::fs::canonicalize(spec.base_dir()).unwrap_or_else(|_| spec.base_dir());
    let (sleeper, waker) =
        wake::Sleeper::new().map_err(|e| RunError::system("a wake-up pipe", e))?;
    let signals = attempt::forward_signals(waker.clone())
        .map_err(|e| RunError::system("its signal handlers", e))?;

    let mut report = RunReport {
        total: total as u64,
        skipped: skipped as u64,
        ..Default::default()
    };
    // Ctrl+C while the run was being created or prepared: it stops now, before any task
    // starts (asked once the handlers above are in place, so no signal falls in between).
    if let Some(sig) = crate::exec::signals::early_stop() {
        signals.close();
        report.stopped_by = Some(sig);
        return Ok(report);
    }
    let counts = Counts {
        total: report.total,
        done: skipped as u64,
        ..Default::default()
    };
    let store_dir = store.dir().to_path_buf();
    let folders = store.folders(run)?;
    // A runner stopped here leaves a run with no folder and no attempt (`check` says nothing).
    fault_injection_crash_point("run-before-folders");
    fault_injection_pause_point("runner-start");
    // Made in the store folder opened, never the store folder itself: a store moved or deleted
    // since it was opened is not made again at its old path, and no task starts (issue 10).
    for dir in folders.roots() {
        store.make_dirs(&dir)?;
    }
    let run_dir = folders.run_dir();
    let dir = RunDir::open(run_dir).map_err(|e| RunError::file(run_dir, e))?;
    let devnull = std::fs::File::open("/dev/null").map_err(|e| RunError::system("/dev/null", e))?;
    let books = Books {
        spec,
        plan,
        tries: vec![0u32; plan.tasks.len()],
        graph,
        delayed: BTreeMap::new(),
        changes: Vec::new(),
        lines: Vec::new(),
        report,
        counts,
    };
    // The writer thread: commits each batch it is given and says so on the loop's channel.
    let (to_writer, batches) = mpsc::channel::<turn::Batch>();
    let committed = waker.clone();
    // One thread samples every running attempt's process tree; stopped when the run is over.
    let sampler = resources::start_sampler()?;
    let ctx = attempt::Context {
        sampler: &sampler,
        tidy_task_dirs: folders.removes_empty_task_dirs(),
        spec,
        plan,
        run,
        store_dir: &store_dir,
        base: &base,
        dir: &dir,
        devnull: &devnull,
        watch: store.watch(),
    };
    // A lingering group keeps its devices as long as the leak schedule may take to end it.
    let lingering_limit = leftovers::LEAK_TIMEOUT + cfg.grace + leftovers::AFTER_KILL;
    let pool = (cfg.devices.clone()).map(|d| devices::Pool::new(d, lingering_limit));
    let queue = queue::Queue::new(pool);
    // The writer's own borrow of the store, over when the threads are.
    let writer = &mut *store;
    let tidy_dir = &dir;
    let outcome = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("commit".into())
            .spawn_scoped(scope, move || {
                for (changes, logs) in batches {
                    // A panic must still end the loop (which waits for this answer), as an error.
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        writer.apply(run, &changes).map_err(RunError::from)
                    }))
                    .unwrap_or(Err(RunError::Panicked { thread: "commit" }));
                    let failed = r.is_err();
                    if !failed {
                        // Empty logs go once their attempts' records are durable: until then
                        // the stdout log is the trace of an attempt begun (issue 15).
                        for log in &logs {
                            tidy_dir.remove_if_empty(log);
                        }
                    }
                    if committed.send([Event::Committed(r)]).is_err() || failed {
                        break;
                    }
                }
            })
            .map_err(|e| RunError::system("a commit thread", e))?;
        // Before the workers start: however this closure ends, they are let go.
        let _release = queue::Release(&queue);
        for n in 0..cfg.workers {
            let (ctx, queue, waker) = (&ctx, &queue, waker.clone());
            std::thread::Builder::new()
                .name(format!("worker-{n}"))
                .spawn_scoped(scope, move || workers::work(ctx, queue, &waker, n + 1))
                .map_err(|e| RunError::system("a worker thread", e))?;
        }
        let mut lp = turn::Loop::new(books, cfg, rep, attempts, folders, to_writer, &queue);
        lp.run(&sleeper).map(|()| lp.books)
    });
    let mut books = outcome?;
    // Nothing of the run may outlive it, not even what left its task's process group.
    let escaped = leftovers::stop_escapees(store, run, cfg.grace, &sleeper, rep);
    signals.close();
    escaped?;
    books.report.interrupted += books.delayed.len() as u64;
    rep.finish();
    Ok(books.report)
}
