//! One turn of the runner's loop, step by step: start what may start, hand the changes to the
//! writer, wait, handle what happened, reap ended children, enforce time limits.

use super::attempt::{self, Context, Launched, Request, Running};
use super::books::Books;
use super::wake::Sleeper;
use super::{Event, RunConfig, COMMIT_WINDOW};
use crate::exec::local::{self, AttemptFiles, Exit};
use crate::policy::Outcome;
use crate::report::{Counts, Reporter};
use crate::spec::format_duration;
use crate::store::{Change, RunFolders, StoreError};
use nix::sys::signal::Signal;
use std::io;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

/// A batch the writer thread is committing: what to report once it is durable.
struct InFlight {
    lines: Vec<String>,
    counts: Counts,
}

/// Everything the loop keeps between turns.
pub(super) struct Loop<'a> {
    /// What the run did so far; read once the loop is over.
    pub books: Books<'a>,
    ctx: &'a Context<'a>,
    cfg: &'a RunConfig,
    rep: &'a Reporter,
    /// Attempt numbers used so far, per task (across invocations).
    attempts: Vec<u32>,
    folders: RunFolders,
    to_writer: Sender<Vec<Change>>,
    running: Vec<Running>,
    /// The signal that stopped the run, once one came.
    stopping: Option<i32>,
    in_flight: Option<InFlight>,
    last_commit: Instant,
}

impl<'a> Loop<'a> {
    /// The loop of one invocation; `attempts` holds the attempt numbers the store has so far.
    pub fn new(
        books: Books<'a>,
        ctx: &'a Context<'a>,
        cfg: &'a RunConfig,
        rep: &'a Reporter,
        attempts: Vec<u32>,
        folders: RunFolders,
        to_writer: Sender<Vec<Change>>,
    ) -> Loop<'a> {
        Loop {
            books,
            ctx,
            cfg,
            rep,
            attempts,
            folders,
            to_writer,
            running: Vec::new(),
            stopping: None,
            in_flight: None,
            last_commit: Instant::now(),
        }
    }

    /// Turns until every task that can run has run (or the run is stopped) and every change is
    /// committed and reported. A failed commit ends it with the error.
    pub fn run(&mut self, sleeper: &Sleeper) -> Result<(), StoreError> {
        loop {
            self.dispatch();
            if self.hand_to_writer() {
                return Ok(());
            }
            let (happened, reap) = sleeper.wait(self.until_next_deadline());
            for ev in happened {
                self.handle(ev)?;
            }
            if reap {
                self.reap();
            }
            self.enforce_limits();
        }
    }

    /// Starts ready tasks while a worker slot is free.
    fn dispatch(&mut self) {
        let (spec, plan) = (self.books.spec, self.books.plan);
        while self.stopping.is_none() && self.running.len() < self.cfg.workers {
            let Some(i) = self.books.graph.ready.pop_front() else {
                break;
            };
            let task = &plan.tasks[i];
            self.attempts[i] += 1;
            self.books.tries[i] += 1;
            let prefix = self.folders.attempt_prefix(&task.key);
            // This attempt number's stdout log exists: an earlier runner started this attempt and
            // died before recording it. Record it, and give this attempt the next number.
            let (files, logs) = loop {
                let n = self.attempts[i];
                let files = AttemptFiles::new(&prefix, n);
                let logs = if self.started_by_layout_1(&task.key, n) {
                    Err(io::ErrorKind::AlreadyExists.into())
                } else {
                    files.create_logs(self.ctx.dir)
                };
                match logs {
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        let books = &mut self.books;
                        books
                            .changes
                            .extend(attempt::unrecorded_start(&task.key, &prefix, n));
                        books.lines.push(format!(
                            "⏸ {}: attempt {n} was started by a runner that stopped before recording it; counted as interrupted",
                            task.label(spec)
                        ));
                        self.attempts[i] += 1;
                    }
                    logs => break (files, logs),
                }
            };
            let request = Request {
                index: i,
                attempt: self.attempts[i],
                task_dir: self.folders.task_dir(&task.key),
                files,
                logs,
            };
            let launched = attempt::launch(self.ctx, request);
            self.on_launched(launched);
        }
        self.books.counts.running = self.running.len() as u64;
    }

    /// Whether a labtrail 0.1 runner started attempt `n` of the task: it made a folder for it.
    fn started_by_layout_1(&self, key: &str, n: u32) -> bool {
        self.folders
            .legacy_attempt_dir(key, n)
            .is_some_and(|d| d.exists())
    }

    /// Hands the window's changes to the writer; they are reported once durable. While a commit
    /// is in flight the next batch grows: one fsync covers everything that happened meanwhile.
    /// True when the loop is over: nothing runs or may start, and everything is committed.
    fn hand_to_writer(&mut self) -> bool {
        let books = &mut self.books;
        let idle = books.graph.ready.is_empty() && books.delayed.is_empty();
        let drained = self.running.is_empty() && (idle || self.stopping.is_some());
        if self.in_flight.is_none()
            && !books.changes.is_empty()
            && (drained || self.stopping.is_some() || self.last_commit.elapsed() >= COMMIT_WINDOW)
        {
            self.in_flight = Some(InFlight {
                lines: std::mem::take(&mut books.lines),
                counts: books.counts,
            });
            if self
                .to_writer
                .send(std::mem::take(&mut books.changes))
                .is_err()
            {
                // The writer only stops after reporting an error, which ends the loop first.
                unreachable!("the writer thread stopped without reporting why");
            }
        }
        drained && self.in_flight.is_none() && books.changes.is_empty()
    }

    /// How long the loop may sleep: until the next time limit, kill, retry or commit window.
    fn until_next_deadline(&self) -> Duration {
        let now = Instant::now();
        let mut wake = now + Duration::from_secs(1);
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

    /// Handles one event.
    fn handle(&mut self, ev: Event) -> Result<(), StoreError> {
        match ev {
            Event::Committed(Ok(())) => {
                let done = self.in_flight.take().expect("a commit was in flight");
                self.last_commit = Instant::now();
                for l in &done.lines {
                    self.rep.line(l);
                }
                self.rep.counts(done.counts);
            }
            Event::Committed(Err(e)) => return Err(e),
            Event::Signal(sig) => self.on_signal(sig),
        }
        Ok(())
    }

    fn on_launched(&mut self, launched: Launched) {
        let (spec, plan) = (self.books.spec, self.books.plan);
        match launched {
            Ok(r) => {
                let task = &plan.tasks[r.index];
                self.books.changes.push(r.started_change(&task.key));
                if self.rep.wants_start_lines() {
                    let line = format!("▶ {} (attempt {})", task.label(spec), r.attempt);
                    self.books.lines.push(line);
                }
                self.running.push(r);
            }
            Err(failed) => {
                let (r, e) = *failed;
                let task = &plan.tasks[r.index];
                self.books.changes.push(r.started_change(&task.key));
                let exit = Exit {
                    code: None,
                    signal: None,
                    max_rss_kb: 0,
                    user_cpu_s: 0.0,
                    sys_cpu_s: 0.0,
                };
                let reason = format!("could not start: {e}");
                self.books
                    .finish(r.index, &r, exit, Outcome::Failed, Some(reason));
            }
        }
    }

    /// The first stop signal: no new tasks, SIGTERM to the running ones, SIGKILL after the grace
    /// period. The second: SIGKILL now.
    fn on_signal(&mut self, sig: i32) {
        let name = Signal::try_from(sig)
            .map(|s| s.as_str())
            .unwrap_or("signal");
        let busy = self.running.len();
        if self.stopping.is_none() {
            self.stopping = Some(sig);
            self.books.report.stopped_by = Some(sig);
            self.rep.always(&format!(
                "labtrail: {name} received: no new tasks; stopping {busy} running task(s) (SIGTERM, then SIGKILL after {}). Press Ctrl+C again to kill them now.",
                format_duration(self.cfg.grace)
            ));
            self.books.changes.push(Change::Note {
                kind: "stop_requested".into(),
                detail: format!("{name}; {busy} running"),
            });
            let kill_at = Instant::now() + self.cfg.grace;
            for r in &mut self.running {
                local::signal_group(r.pid, Signal::SIGTERM);
                r.kill_at = Some(r.kill_at.map_or(kill_at, |k| k.min(kill_at)));
            }
        } else {
            self.rep.always(&format!(
                "labtrail: second {name}: killing {busy} running task(s) now"
            ));
            for r in &mut self.running {
                local::signal_group(r.pid, Signal::SIGKILL);
                r.kill_at = None;
            }
        }
    }

    /// Records every running attempt whose process has ended.
    fn reap(&mut self) {
        let mut k = 0;
        while k < self.running.len() {
            let Some(exit) = local::try_reap(self.running[k].pid) else {
                k += 1;
                continue;
            };
            let r = self.running.swap_remove(k);
            let (outcome, reason) = attempt::classify(&r, &exit, self.stopping.is_some());
            self.books.finish(r.index, &r, exit, outcome, reason);
        }
    }

    /// Time limits, grace periods, and retries whose backoff is over.
    fn enforce_limits(&mut self) {
        let now = Instant::now();
        for r in &mut self.running {
            if r.deadline.is_some_and(|d| d <= now) {
                r.deadline = None;
                r.timed_out = true;
                local::signal_group(r.pid, Signal::SIGTERM);
                r.kill_at = Some(now + self.cfg.grace);
            } else if r.kill_at.is_some_and(|k| k <= now) {
                r.kill_at = None;
                local::signal_group(r.pid, Signal::SIGKILL);
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
