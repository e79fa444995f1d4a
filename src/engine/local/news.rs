//! What the loop does with each piece of news: a commit done, a stop signal, an attempt a
//! worker started, ended, could not start, or found already taken.

use super::attempt::{Request, Running};
use super::ending::{self, Output};
use super::turn::Loop;
use super::wake::Sleeper;
use super::Event;
use super::RunError;
use crate::exec::process::{self, Exit};
use crate::exec::tree_usage::TreeUsage;
use crate::policy::Outcome;
use crate::spec::format_duration;
use crate::store::Change;
use nix::sys::signal::Signal;
use std::time::Instant;

impl Loop<'_> {
    /// Handles one piece of news. A failed commit is returned: the run cannot go on.
    pub(super) fn handle(&mut self, news: Event) -> Result<(), RunError> {
        match news {
            Event::Committed(Ok(())) => {
                let done = self.in_flight.take().expect("a commit was in flight");
                self.last_commit = Instant::now();
                for l in &done.lines {
                    self.rep.line(l);
                }
                self.rep.counts(done.counts);
            }
            Event::Committed(Err(e)) => return Err(e),
            Event::Signal(sig, at) => self.on_signal(sig, at),
            Event::Started(r) => self.on_started(*r),
            Event::Ended {
                pid,
                exit,
                usage,
                output,
                lingering,
            } => self.on_ended(pid, exit, *usage, output, lingering),
            Event::NotStarted(failed) => {
                let (r, e) = *failed;
                self.on_not_started(r, e)
            }
            Event::Taken(job) => self.on_taken(*job),
            Event::Returned(job) => {
                self.reported();
                self.give_back(job.index);
            }
            Event::Broken(thread) => return Err(RunError::Panicked { thread }),
        }
        self.books.counts.running = self.running.len() as u64;
        Ok(())
    }

    /// One attempt handed to the workers is over for them (ended, not started, taken, returned).
    fn reported(&mut self) {
        debug_assert!(self.handed > 0, "more attempts reported than handed");
        self.handed = self.handed.saturating_sub(1);
    }

    fn on_started(&mut self, mut r: Running) {
        self.forget_group(r.pid);
        let (spec, task) = (self.books.spec, &self.books.plan.tasks[r.index]);
        self.books.changes.push(r.started_change(&task.key));
        self.books.changes.extend(super::placement::devices_note(
            &r,
            &task.key,
            &spec.stages[task.stage],
        ));
        let label = self.books.plan.label(r.index, spec);
        // The live area shows what runs now, before its start is committed: it states no
        // record, and a line that waited for the commit would lag behind the process.
        self.rep
            .task_started(r.pid, &label, r.files.metrics.clone(), r.started);
        if self.rep.wants_start_lines() {
            let line = format!("▶ {label} (attempt {})", r.attempt);
            self.books.lines.push(line);
        }
        if self.killing {
            // A worker took it just before the stop: it gets what the others got.
            process::signal_group(r.pid, Signal::SIGKILL);
        } else if self.stopping.is_some() {
            process::signal_group(r.pid, Signal::SIGTERM);
            r.kill_at = Some(Instant::now() + self.cfg.grace);
        }
        self.running.push(r);
    }

    fn on_ended(
        &mut self,
        pid: u32,
        exit: Exit,
        usage: TreeUsage,
        mut output: Output,
        lingering: bool,
    ) {
        self.reported();
        self.rep.task_ended(pid);
        // Started always comes first: a worker reports its attempt's start, then its end.
        let Some(k) = self.running.iter().position(|r| r.pid == pid) else {
            debug_assert!(false, "an end reported for pid {pid}, which never started");
            return;
        };
        let r = self.running.swap_remove(k);
        if lingering {
            self.left_behind(&r);
        }
        let (outcome, reason) = ending::classify(&r, &exit, self.stopped_at);
        self.logs_to_tidy.append(&mut output.logs_to_tidy);
        let kept = output.kept_task_dir;
        self.books
            .finish(r.index, &r, exit, outcome, reason, output);
        let key = &self.books.plan.tasks[r.index].key;
        if kept {
            self.books.changes.push(Change::Record {
                task: Some(key.to_string()),
                kind: crate::store::KEPT_TASK_DIR.into(),
                json: format!("{{\"attempt\":{}}}", r.attempt),
            });
        }
        if let Some(record) = super::resources::record(key, r.attempt, &exit, usage) {
            self.books.changes.push(record);
        }
    }

    fn on_not_started(&mut self, r: Running, e: std::io::Error) {
        self.reported();
        let task = &self.books.plan.tasks[r.index];
        self.books.changes.push(r.started_change(&task.key));
        // Its logs were made (unless that is what failed), and nothing wrote to them.
        self.logs_to_tidy
            .extend([r.files.stdout.clone(), r.files.stderr.clone()]);
        let exit = Exit::never_started();
        let reason = format!("could not start: {e}");
        self.books.finish(
            r.index,
            &r,
            exit,
            Outcome::Failed,
            Some(reason),
            Output::none(),
        );
    }

    /// The job's attempt number was taken by a runner that died before recording it: recorded
    /// as interrupted, and the task goes again under the next number.
    fn on_taken(&mut self, job: Request) {
        self.reported();
        let i = job.index;
        self.skip_taken(i, job.attempt);
        if self.stopping.is_some() {
            self.give_back(i);
        } else {
            let job = self.job(i);
            self.queue.push(job, true);
            self.handed += 1;
        }
    }

    /// Task `i` was handed over but will not start in this invocation: undoes its attempt.
    fn give_back(&mut self, i: usize) {
        self.attempts[i] -= 1;
        self.books.tries[i] -= 1;
        self.books.graph.ready.push_front(i);
    }

    /// Takes back the attempts no worker has started.
    fn take_back_queued(&mut self) {
        for job in self.queue.take_back().into_iter().rev() {
            self.reported();
            self.give_back(job.index);
        }
    }

    /// The first stop signal: no new tasks, SIGTERM to the running ones, SIGKILL after the grace
    /// period. The second: SIGKILL now.
    fn on_signal(&mut self, sig: i32, at: Instant) {
        let name = Signal::try_from(sig)
            .map(|s| s.as_str())
            .unwrap_or("signal");
        let busy = self.running.len();
        if self.stopping.is_none() {
            self.stopping = Some(sig);
            self.stopped_at = Some(at);
            self.take_back_queued();
            self.books.report.stopped_by = Some(sig);
            self.rep.always(&format!(
                "labtrail: {name} received: no new tasks; stopping {busy} running task(s) (SIGTERM, then SIGKILL after {}). Press Ctrl+C again to kill them now.",
                format_duration(self.cfg.grace)
            ));
            self.books.changes.push(Change::Note {
                kind: "stop_requested".into(),
                detail: format!("{name}; {busy} running"),
            });
            self.terminate_running();
        } else {
            self.rep.always(&format!(
                "labtrail: second {name}: killing {busy} running task(s) now"
            ));
            self.kill_running();
        }
    }

    /// SIGKILL to every running attempt and what ended ones left, and to any that starts from
    /// now on.
    fn kill_running(&mut self) {
        self.killing = true;
        for r in &mut self.running {
            process::signal_group(r.pid, Signal::SIGKILL);
            r.kill_at = None;
        }
        self.kill_leftovers();
    }

    /// SIGTERM to every running attempt and what ended ones left, SIGKILL due after the grace
    /// period.
    fn terminate_running(&mut self) {
        let kill_at = Instant::now() + self.cfg.grace;
        for r in &mut self.running {
            process::signal_group(r.pid, Signal::SIGTERM);
            r.kill_at = Some(r.kill_at.map_or(kill_at, |k| k.min(kill_at)));
        }
        self.terminate_leftovers(kill_at);
    }

    /// After a failed commit nothing more can be recorded: stops the attempts in flight
    /// (SIGTERM, SIGKILL after the grace period; a signal kills them at once) and waits until the
    /// workers report them over, so none is left behind unwatched (an aborted run has had its
    /// processes killed already). Resuming runs them again.
    pub(super) fn abandon(&mut self, sleeper: &Sleeper) {
        if self.stopping.is_none() {
            self.stopping = Some(libc::SIGTERM);
            self.stopped_at = Some(Instant::now());
            self.take_back_queued();
            self.terminate_running();
        }
        if self.handed > 0 {
            self.rep.always(&format!(
                "labtrail: the store cannot be written: stopping {} running task(s) (SIGTERM, then SIGKILL after {})",
                self.running.len(),
                format_duration(self.cfg.grace)
            ));
        }
        while self.handed > 0 && !self.queue.aborted() {
            for news in sleeper.wait(self.until_next_deadline()) {
                match news {
                    Event::Started(r) => self.on_started(*r),
                    Event::Ended { pid, lingering, .. } => {
                        if lingering {
                            // Nothing more can be recorded, nor waited for: killed now.
                            process::signal_group(pid, Signal::SIGKILL);
                        }
                        self.reported();
                        self.rep.task_ended(pid);
                        self.running.retain(|r| r.pid != pid);
                    }
                    Event::NotStarted(_) | Event::Taken(_) | Event::Returned(_) => self.reported(),
                    Event::Signal(..) => self.kill_running(),
                    Event::Committed(_) | Event::Broken(_) => {}
                }
            }
            self.enforce_limits();
        }
        self.kill_leftovers();
    }
}
