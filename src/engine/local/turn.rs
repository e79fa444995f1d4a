//! One turn of the runner's loop, step by step: hand what may start to the workers, hand the
//! changes to the writer, wait for news, handle it (see `news.rs`), enforce time limits.

use super::attempt::{self, Request, Running};
use super::books::Books;
use super::leftovers::Leftover;
use super::queue::Queue;
use super::wake::Sleeper;
use super::RunError;
use super::{RunConfig, COMMIT_WINDOW};
use crate::exec::process;
use crate::progress::{Counts, Reporter};
use crate::protocol::AttemptFiles;
use crate::store::{Change, RunFolders};
use nix::sys::signal::Signal;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

/// What the writer thread is handed: changes to commit, and logs to remove if empty once they
/// are committed.
pub(super) type Batch = (Vec<Change>, Vec<std::path::PathBuf>);

/// A batch the writer thread is committing: what to report once it is durable.
pub(super) struct InFlight {
    pub(super) lines: Vec<String>,
    pub(super) counts: Counts,
}

/// Everything the loop keeps between turns.
pub(super) struct Loop<'a> {
    /// What the run did so far; read once the loop is over.
    pub books: Books<'a>,
    pub(super) cfg: &'a RunConfig,
    pub(super) rep: &'a Reporter,
    /// Attempt numbers used so far, per task (across invocations).
    pub(super) attempts: Vec<u32>,
    pub(super) folders: RunFolders,
    to_writer: Sender<Batch>,
    /// Logs of ended attempts, handed to the writer with the batch that records their end.
    pub(super) logs_to_tidy: Vec<std::path::PathBuf>,
    pub(super) queue: &'a Queue,
    /// Attempts handed to the workers that they have not reported over yet: queued, starting,
    /// running, or ended and not yet reported (a worker reports an end after its next start).
    pub(super) handed: usize,
    pub(super) running: Vec<Running>,
    /// The signal that stopped the run, once one came, and when.
    pub(super) stopping: Option<i32>,
    pub(super) stopped_at: Option<Instant>,
    /// A second stop signal came: whatever still starts is killed at once.
    pub(super) killing: bool,
    pub(super) in_flight: Option<InFlight>,
    pub(super) last_commit: Instant,
    /// Process groups of ended attempts with something still in them (see `leftovers.rs`).
    pub(super) leftovers: Vec<Leftover>,
}

impl<'a> Loop<'a> {
    /// The loop of one invocation; `attempts` holds the attempt numbers the store has so far.
    pub fn new(
        books: Books<'a>,
        cfg: &'a RunConfig,
        rep: &'a Reporter,
        attempts: Vec<u32>,
        folders: RunFolders,
        to_writer: Sender<Batch>,
        queue: &'a Queue,
    ) -> Loop<'a> {
        Loop {
            books,
            cfg,
            rep,
            attempts,
            folders,
            to_writer,
            logs_to_tidy: Vec::new(),
            queue,
            handed: 0,
            running: Vec::new(),
            stopping: None,
            stopped_at: None,
            killing: false,
            in_flight: None,
            last_commit: Instant::now(),
            leftovers: Vec::new(),
        }
    }

    /// Turns until every task that can run has run (or the run is stopped) and every change is
    /// committed and reported. A failed commit ends it with the error, once the attempts in
    /// flight are stopped.
    pub fn run(&mut self, sleeper: &Sleeper) -> Result<(), RunError> {
        let outcome = self.turns(sleeper);
        if outcome.is_err() {
            self.abandon(sleeper);
        }
        outcome
    }

    fn turns(&mut self, sleeper: &Sleeper) -> Result<(), RunError> {
        loop {
            self.dispatch();
            if self.hand_to_writer() {
                return Ok(());
            }
            // The whole batch is handled even after a failed commit: an attempt it reports as
            // started or ended must be known to `abandon`, which waits for every one.
            let mut failed = None;
            for news in sleeper.wait(self.until_next_deadline()) {
                if let Err(e) = self.handle(news) {
                    failed.get_or_insert(e);
                }
            }
            if let Some(e) = failed {
                return Err(e);
            }
            self.enforce_limits();
        }
    }

    /// Hands ready tasks to the workers: enough for each to have one attempt running and one
    /// waiting in the queue, so that none waits for the loop.
    fn dispatch(&mut self) {
        while self.stopping.is_none() && self.handed < 2 * self.cfg.workers {
            let Some(i) = self.books.graph.ready.pop_front() else {
                break;
            };
            self.attempts[i] += 1;
            self.books.tries[i] += 1;
            let job = self.job(i);
            self.queue.push(job, false);
            self.handed += 1;
        }
    }

    /// The next attempt of task `i`, numbered past the attempts a labtrail 0.1 runner started
    /// without recording them (it made a folder for each).
    pub(super) fn job(&mut self, i: usize) -> Request {
        let key = &self.books.plan.tasks[i].key;
        while self
            .folders
            .legacy_attempt_dir(key, self.attempts[i])
            .is_some_and(|d| d.exists())
        {
            self.skip_taken(i, self.attempts[i]);
        }
        let n = self.attempts[i];
        Request {
            index: i,
            attempt: n,
            task_dir: self.folders.task_dir(key),
            files: AttemptFiles::new(&self.folders.attempt_prefix(key), n),
            upstream: self.books.plan.upstream(self.books.spec, i, &self.folders),
        }
    }

    /// Attempt `n` of task `i` was started by a runner that died before recording it: records
    /// it as interrupted, and moves the task's attempt numbers past it.
    pub(super) fn skip_taken(&mut self, i: usize, n: u32) {
        let (spec, plan) = (self.books.spec, self.books.plan);
        let task = &plan.tasks[i];
        let prefix = self.folders.attempt_prefix(&task.key);
        let books = &mut self.books;
        books
            .changes
            .extend(attempt::unrecorded_start(&task.key, &prefix, n));
        books.lines.push(format!(
            "⏸ {}: attempt {n} was started by a runner that stopped before recording it; counted as interrupted",
            plan.label(i, spec)
        ));
        self.attempts[i] = n + 1;
    }

    /// Hands the window's changes to the writer; they are reported once durable. While a commit
    /// is in flight the next batch grows: one fsync covers everything that happened meanwhile.
    /// True when the loop is over: nothing runs or may start, and everything is committed.
    fn hand_to_writer(&mut self) -> bool {
        let books = &mut self.books;
        let idle = books.graph.ready.is_empty() && books.delayed.is_empty();
        let drained =
            self.handed == 0 && (idle || self.stopping.is_some()) && self.leftovers.is_empty();
        if self.in_flight.is_none()
            && !books.changes.is_empty()
            && (drained || self.stopping.is_some() || self.last_commit.elapsed() >= COMMIT_WINDOW)
        {
            self.in_flight = Some(InFlight {
                lines: std::mem::take(&mut books.lines),
                counts: books.counts,
            });
            let batch = (
                std::mem::take(&mut books.changes),
                std::mem::take(&mut self.logs_to_tidy),
            );
            if self.to_writer.send(batch).is_err() {
                // The writer only stops after reporting an error, which ends the loop first.
                unreachable!("the writer thread stopped without reporting why");
            }
        }
        drained && self.in_flight.is_none() && books.changes.is_empty()
    }

    /// How long the loop may sleep: until the next time limit, kill, retry, commit window or
    /// look at what ended attempts left.
    pub(super) fn until_next_deadline(&self) -> Duration {
        let now = Instant::now();
        let mut wake = now + Duration::from_secs(1);
        if let Some(t) = self.leftovers_due() {
            wake = wake.min(t);
        }
        for r in &self.running {
            for t in [r.deadline, r.kill_at].into_iter().flatten() {
                wake = wake.min(t);
            }
        }
        if self.stopping.is_none() {
            if let Some((&(t, _), _)) = self.books.delayed.first_key_value() {
                wake = wake.min(t);
            }
        }
        if self.in_flight.is_none() && !self.books.changes.is_empty() {
            wake = wake.min(self.last_commit + COMMIT_WINDOW);
        }
        wake.saturating_duration_since(now)
    }

    /// Time limits, grace periods, what ended attempts left, and retries whose backoff is over.
    pub(super) fn enforce_limits(&mut self) {
        let now = Instant::now();
        self.enforce_leftovers(now);
        for r in &mut self.running {
            if r.deadline.is_some_and(|d| d <= now) {
                r.deadline = None;
                r.timed_out_at = Some(now);
                process::signal_group(r.pid, Signal::SIGTERM);
                r.kill_at = Some(now + self.cfg.grace);
            } else if r.kill_at.is_some_and(|k| k <= now) {
                r.kill_at = None;
                process::signal_group(r.pid, Signal::SIGKILL);
            }
        }
        if self.stopping.is_none() {
            let books = &mut self.books;
            while let Some((&(t, i), _)) = books.delayed.first_key_value() {
                if t > now {
                    break;
                }
                books.delayed.remove(&(t, i));
                books.graph.ready.push_back(i);
            }
        }
    }
}
