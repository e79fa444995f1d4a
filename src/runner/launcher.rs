//! Launcher threads: they prepare an attempt's files and start its process, off the loop.
//!
//! posix_spawn suspends the calling thread until the child has called `execve`, a few hundred
//! microseconds on a virtual machine. Done by the loop itself, every start would wait for the one
//! before it, and workers would sit idle behind it. Each launcher waits for its own child, so
//! starts proceed in parallel and the loop keeps reaping and recording meanwhile.

use super::attempt::{self, Running};
use super::Event;
use crate::plan::Plan;
use crate::spec::Spec;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Mutex;

/// One attempt to start.
pub(super) struct Request {
    /// Index of the task in the plan.
    pub index: usize,
    pub attempt: u32,
    /// The task's own folder.
    pub task_dir: PathBuf,
    /// Where its attempt files go (see [`crate::store::Store::attempt_prefix`]).
    pub attempt_prefix: PathBuf,
}

/// What every launch needs besides its request.
pub(super) struct Context<'a> {
    pub spec: &'a Spec,
    pub plan: &'a Plan,
    pub run: &'a str,
    pub store_dir: &'a Path,
    /// The experiment file's folder, which stage working directories are relative to.
    pub base: &'a Path,
}

/// How many launchers to run: one per worker slot, but no more than there are CPUs to exec on.
pub(super) fn count(workers: usize) -> usize {
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    workers.min(cpus.max(2)).max(1)
}

/// Serves requests until their sender is dropped; each outcome goes back to the loop as
/// [`Event::Launched`].
pub(super) fn serve(ctx: &Context, requests: &Mutex<Receiver<Request>>, events: Sender<Event>) {
    loop {
        // The lock is held while waiting, so exactly one idle launcher takes the next request.
        let next = requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .recv();
        let Ok(req) = next else {
            return;
        };
        if events
            .send(Event::Launched(attempt::launch(ctx, &req)))
            .is_err()
        {
            return;
        }
    }
}

/// What a launch gives back: the attempt in flight, or the attempt that could not start (pid 0)
/// with the reason.
pub(crate) type Launched = Result<Running, Box<(Running, std::io::Error)>>;
