//! The queue the loop fills with prepared attempts and the workers take them from, and what
//! lets the workers go when the loop is done (see [`super::workers`]).

use super::attempt::Request;
use super::devices::Pool;
use crate::exec::process;
use nix::sys::signal::Signal;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};

/// Attempts prepared by the loop, waiting for a worker.
#[derive(Default)]
pub(super) struct Queue {
    state: Mutex<State>,
    changed: Condvar,
    /// The run is stopping: an attempt a worker took but has not started goes back to the loop.
    pub(super) stopping: AtomicBool,
    /// The processes the workers wait for, and whether the run was aborted (a thread panicked):
    /// then they are killed, so that no worker waits for ever.
    children: Mutex<(Vec<u32>, bool)>,
    /// The GPUs the workers share out, if the run hands out any (issue 14).
    pub(super) devices: Option<Pool>,
}

#[derive(Default)]
struct State {
    jobs: VecDeque<Request>,
    /// How many jobs at the front have their task folder made (or being made).
    prepared: usize,
    closed: bool,
}

impl Queue {
    /// An empty queue; its workers share out `devices`, if given.
    pub fn new(devices: Option<Pool>) -> Queue {
        Queue {
            devices,
            ..Queue::default()
        }
    }

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
        if let Some(pool) = &self.devices {
            // A worker waiting for devices hands its attempt back too.
            pool.wake_all();
        }
        let mut s = self.state();
        s.prepared = 0;
        s.jobs.drain(..).collect()
    }

    /// Kills every process a worker waits for, now and later, and closes the queue: the way out
    /// when a thread panicked and the run cannot be kept.
    pub fn abort(&self) {
        let mut children = self.children.lock().unwrap_or_else(|e| e.into_inner());
        children.1 = true;
        for &pid in &children.0 {
            process::signal_group(pid, Signal::SIGKILL);
        }
        drop(children);
        self.stopping.store(true, Ordering::SeqCst);
        if let Some(pool) = &self.devices {
            pool.wake_all();
        }
        self.close();
    }

    /// Whether [`Queue::abort`] was called.
    pub fn aborted(&self) -> bool {
        self.children.lock().unwrap_or_else(|e| e.into_inner()).1
    }

    /// Counts `pid` among the processes to kill on abort; killed at once if that already came.
    pub(super) fn watch(&self, pid: u32) {
        let mut children = self.children.lock().unwrap_or_else(|e| e.into_inner());
        if children.1 {
            process::signal_group(pid, Signal::SIGKILL);
        } else {
            children.0.push(pid);
        }
    }

    pub(super) fn unwatch(&self, pid: u32) {
        let mut children = self.children.lock().unwrap_or_else(|e| e.into_inner());
        children.0.retain(|&p| p != pid);
    }

    /// Tells the workers to finish once the queue is empty.
    pub fn close(&self) {
        self.state().closed = true;
        self.changed.notify_all();
    }

    /// The next attempt; `None` once the queue is closed and empty.
    pub(super) fn pop(&self) -> Option<Request> {
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
    pub(super) fn try_pop(&self) -> Option<Request> {
        let mut s = self.state();
        let job = s.jobs.pop_front()?;
        s.prepared = s.prepared.saturating_sub(1);
        Some(job)
    }

    /// The task folder of the first queued attempt whose folder no worker made yet, counted as
    /// made. The job stays in the queue, for any worker to take: a worker whose task runs for
    /// hours does not hold back the next one.
    pub(super) fn folder_to_make(&self) -> Option<PathBuf> {
        let mut s = self.state();
        let dir = s.jobs.get(s.prepared)?.task_dir.clone();
        s.prepared += 1;
        Some(dir)
    }
}

/// Lets the workers go when dropped: closes the queue, or aborts the run if the loop is
/// panicking (the thread scope waits for every worker, and a worker for its process).
pub(super) struct Release<'q>(pub &'q Queue);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.abort();
        } else {
            self.0.close();
        }
    }
}
