//! The worker threads, one per worker slot, and the queue the loop fills for them.
//!
//! A worker takes the next prepared attempt, starts it, waits for its process, and starts the
//! next: when a task ends, the next one starts without waiting for the loop, which records,
//! applies the policy and refills the queue alongside. While an attempt runs, its worker makes
//! the task folder of an attempt still in the queue (any worker may then take it), and it reports
//! an end only after starting the next attempt: the path from one task's end to the next one's
//! start is little more than the wait and the spawn.
//!
//! Why threads: starting a process blocks its starter until the child has executed its program
//! (`posix_spawn` shares memory with the child until then). With the loop as the only starter,
//! every task's start waited for that, and on 2 cores the loop stood between each task's end and
//! the next one's start (`bench/compare.sh` measures the difference).
//!
//! The loop counts every attempt it hands over until a worker reports how it went: started then
//! ended, not started, handed back (the run is stopping), or its number already taken. That count, not the threads,
//! says when the run is drained.

use super::attempt::{self, Context, Output, Request};
use super::wake::Waker;
use super::Event;
use crate::exec::local::{self, Exit};
use std::collections::VecDeque;
use std::io::ErrorKind;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};

/// Attempts prepared by the loop, waiting for a worker.
#[derive(Default)]
pub(super) struct Queue {
    state: Mutex<State>,
    changed: Condvar,
    /// The run is stopping: an attempt a worker took but has not started goes back to the loop.
    stopping: AtomicBool,
}

#[derive(Default)]
struct State {
    jobs: VecDeque<Request>,
    /// How many jobs at the front have their task folder made (or being made).
    prepared: usize,
    closed: bool,
}

impl Queue {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A worker never panics while holding the lock; if one did, the queue is still whole.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds an attempt at the back, or at the front (one whose number was taken, retried first).
    pub fn push(&self, job: Request, front: bool) {
        let mut s = self.state();
        if front {
            s.jobs.push_front(job);
            s.prepared = 0;
        } else {
            s.jobs.push_back(job);
        }
        drop(s);
        self.changed.notify_one();
    }

    /// The run is stopping: returns the attempts no worker took, and has workers hand back the
    /// ones they took and have not started.
    pub fn take_back(&self) -> Vec<Request> {
        self.stopping.store(true, Ordering::SeqCst);
        let mut s = self.state();
        s.prepared = 0;
        s.jobs.drain(..).collect()
    }

    /// Tells the workers to finish once the queue is empty.
    pub fn close(&self) {
        self.state().closed = true;
        self.changed.notify_all();
    }

    /// The next attempt; `None` once the queue is closed and empty.
    fn pop(&self) -> Option<Request> {
        let mut s = self.state();
        loop {
            if let Some(job) = s.jobs.pop_front() {
                s.prepared = s.prepared.saturating_sub(1);
                return Some(job);
            }
            if s.closed {
                return None;
            }
            s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The next attempt, if one is waiting.
    fn try_pop(&self) -> Option<Request> {
        let mut s = self.state();
        let job = s.jobs.pop_front()?;
        s.prepared = s.prepared.saturating_sub(1);
        Some(job)
    }

    /// The task folder of the first queued attempt whose folder no worker made yet, counted as
    /// made. The job stays in the queue, for any worker to take: a worker whose task runs for
    /// hours does not hold back the next one.
    fn folder_to_make(&self) -> Option<PathBuf> {
        let mut s = self.state();
        let dir = s.jobs.get(s.prepared)?.task_dir.clone();
        s.prepared += 1;
        Some(dir)
    }
}

/// An attempt a worker started, and where it leaves its output.
struct Watch {
    pid: u32,
    result: PathBuf,
    metrics: PathBuf,
}

/// One worker: runs attempts from `queue` one at a time until it is closed, and reports each to
/// the loop. Reports cannot fail while the loop runs (it holds the receiving end).
pub(super) fn work(ctx: &Context, queue: &Queue, loop_: &Waker) {
    // The attempt that ended last, reported once the next one has started, in the same wake-up.
    let mut ended: Option<(Watch, Exit)> = None;
    loop {
        let job = match queue.try_pop() {
            Some(job) => job,
            None => {
                // Nothing to start first: report now, the loop may be waiting for it to hand more.
                if let Some((watch, exit)) = ended.take() {
                    let _ = loop_.send([end(ctx, watch, exit)]);
                }
                match queue.pop() {
                    Some(job) => job,
                    None => return,
                }
            }
        };
        let (started, news) = start(ctx, queue, job);
        let previous = ended.take().map(|(watch, exit)| end(ctx, watch, exit));
        let _ = loop_.send(std::iter::once(news).chain(previous));
        let Some(watch) = started else {
            continue;
        };
        if let Some(dir) = queue.folder_to_make() {
            // A failure is found again, and reported, when that attempt starts.
            let _ = ctx.dir.make_dir(&dir);
        }
        let exit = local::wait(watch.pid);
        ended = Some((watch, exit));
    }
}

/// Starts `job`, unless the run is stopping or its number is taken; the news for the loop.
fn start(ctx: &Context, queue: &Queue, job: Request) -> (Option<Watch>, Event) {
    if queue.stopping.load(Ordering::SeqCst) {
        return (None, Event::Returned(Box::new(job)));
    }
    let logs = match job.files.create_logs(ctx.dir) {
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            return (None, Event::Taken(Box::new(job)));
        }
        logs => logs,
    };
    match attempt::launch(ctx, job, logs) {
        Ok(r) => {
            let watch = Watch {
                pid: r.pid,
                result: r.files.result.clone(),
                metrics: r.files.metrics.clone(),
            };
            (Some(watch), Event::Started(Box::new(r)))
        }
        Err(failed) => (None, Event::NotStarted(failed)),
    }
}

/// Reads what an ended attempt left: the news of its end. Read here, not in the loop: the loop
/// stays out of the folders the workers write in.
fn end(ctx: &Context, watch: Watch, exit: Exit) -> Event {
    let output = Output::read(ctx.dir, &watch.result, &watch.metrics, exit.code == Some(0));
    Event::Ended {
        pid: watch.pid,
        exit,
        output,
    }
}
