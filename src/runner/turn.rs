//! One turn of the runner's loop, step by step: start what may start, hand the changes to the
//! writer, wait, handle what happened, reap ended children, enforce time limits.

use super::attempt::{self, Running};
use super::books::Books;
use super::launcher::{Launched, Request};
use super::{Event, RunConfig, COMMIT_WINDOW};
use crate::exec::local::{self, AttemptFiles, Exit};
use crate::policy::Outcome;
use crate::report::{Counts, Reporter};
use crate::spec::format_duration;
use crate::store::{Change, StoreError};
use nix::sys::signal::Signal;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// A batch the writer thread is committing: what to report once it is durable.
struct InFlight {
    lines: Vec<String>,
    counts: Counts,
}

/// Everything the loop keeps between turns.
pub(super) struct Loop<'a> {
    pub books: Books<'a>,
    pub cfg: &'a RunConfig,
    pub rep: &'a Reporter,
    /// Attempt numbers used so far, per task (across invocations).
    pub attempts: Vec<u32>,
    pub tasks_root: PathBuf,
    pub attempts_root: PathBuf,
    pub to_launchers: Sender<Request>,
    pub to_writer: Sender<Vec<Change>>,
    running: Vec<Running>,
    /// Attempts handed to a launcher and not back yet: they hold a worker slot.
    launching: usize,
    /// The signal that stopped the run, once one came.
    stopping: Option<i32>,
    /// When running tasks are killed if the run is stopping (a late start gets the same).
    stop_kill_at: Option<Instant>,
    in_flight: Option<InFlight>,
    last_commit: Instant,
}

impl<'a> Loop<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        books: Books<'a>,
        cfg: &'a RunConfig,
        rep: &'a Reporter,
        attempts: Vec<u32>,
        tasks_root: PathBuf,
        attempts_root: PathBuf,
        to_launchers: Sender<Request>,
        to_writer: Sender<Vec<Change>>,
    ) -> Loop<'a> {
        Loop {
            books,
            cfg,
            rep,
            attempts,
            tasks_root,
            attempts_root,
            to_launchers,
            to_writer,
            running: Vec::new(),
            launching: 0,
            stopping: None,
            stop_kill_at: None,
            in_flight: None,
            last_commit: Instant::now(),
        }
    }

    /// Turns until every task that can run has run (or the run is stopped) and every change is
    /// committed and reported. A failed commit ends it with the error.
    pub fn run(&mut self, events: &Receiver<Event>) -> Result<(), StoreError> {
        loop {
            self.dispatch();
            if self.hand_to_writer() {
                return Ok(());
            }
            let (happened, timed_out) = self.wait(events);
            let mut reap = timed_out;
            for ev in happened {
                reap |= self.handle(ev)?;
            }
            if reap {
                self.reap();
            }
            self.enforce_limits();
        }
    }

    fn workers_busy(&self) -> usize {
        self.running.len() + self.launching
    }

    /// Hands ready tasks to the launchers while a worker slot is free.
    fn dispatch(&mut self) {
        let (spec, plan) = (self.books.spec, self.books.plan);
        while self.stopping.is_none() && self.workers_busy() < self.cfg.workers {
            let Some(i) = self.books.graph.ready.pop_front() else {
                break;
            };
            let task = &plan.tasks[i];
            self.attempts[i] += 1;
            self.books.tries[i] += 1;
            let prefix = self.attempts_root.join(&task.key);
            // A log of this attempt number already exists: an earlier runner started this attempt
            // and died before recording it. Record it, and give it a new number.
            while AttemptFiles::new(&prefix, self.attempts[i]).stdout.exists() {
                let n = self.attempts[i];
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
            let request = Request {
                index: i,
                attempt: self.attempts[i],
                task_dir: self.tasks_root.join(&task.key),
                attempt_prefix: prefix,
            };
            if self.to_launchers.send(request).is_err() {
                unreachable!("launchers stop only when the loop drops their channel");
            }
            self.launching += 1;
        }
        self.books.counts.running = self.workers_busy() as u64;
    }

    /// Hands the window's changes to the writer; they are reported once durable. While a commit
    /// is in flight the next batch grows: one fsync covers everything that happened meanwhile.
    /// True when the loop is over: nothing runs or may start, and everything is committed.
    fn hand_to_writer(&mut self) -> bool {
        let books = &mut self.books;
        let idle = books.graph.ready.is_empty() && books.delayed.is_empty();
        let drained =
            self.running.is_empty() && self.launching == 0 && (idle || self.stopping.is_some());
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

    /// Waits for the next events, or the next deadline: a timeout says so, and the loop then looks
    /// for ended children too, so that a lost SIGCHLD delays an exit by a second at most.
    fn wait(&self, events: &Receiver<Event>) -> (Vec<Event>, bool) {
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
        let first = match events.recv_timeout(wake.saturating_duration_since(now)) {
            Ok(ev) => ev,
            Err(RecvTimeoutError::Timeout) => return (Vec::new(), true),
            Err(RecvTimeoutError::Disconnected) => unreachable!("the loop holds a sender"),
        };
        (
            std::iter::once(first).chain(events.try_iter()).collect(),
            false,
        )
    }

    /// Handles one event; returns whether to look for ended children.
    fn handle(&mut self, ev: Event) -> Result<bool, StoreError> {
        match ev {
            Event::ChildEnded => return Ok(true),
            Event::Launched(launched) => {
                self.launching -= 1;
                self.on_launched(launched);
                // Its SIGCHLD may have come before it joined `running`.
                return Ok(true);
            }
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
        Ok(false)
    }

    fn on_launched(&mut self, launched: Launched) {
        let (spec, plan) = (self.books.spec, self.books.plan);
        match launched {
            Ok(mut r) => {
                let task = &plan.tasks[r.index];
                self.books.changes.push(r.started_change(&task.key));
                if self.stopping.is_some() {
                    local::signal_group(r.pid, Signal::SIGTERM);
                    r.kill_at = self.stop_kill_at;
                }
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
        let busy = self.workers_busy();
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
            self.stop_kill_at = Some(kill_at);
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
            self.stop_kill_at = Some(Instant::now());
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
