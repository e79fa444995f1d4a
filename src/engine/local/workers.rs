//! The worker threads, one per worker slot, taking attempts from the [`super::queue`] the loop
//! fills.
//!
//! A worker takes the next attempt from the queue, starts it, waits for its process, and takes
//! the next: when a task ends, the next one starts without waiting for the loop, which records,
//! applies the policy and refills the queue alongside. The path from one task's end to the next
//! one's start is little more than the wait and the spawn: a worker reports an end after
//! starting its next attempt (at once if none is queued), in one message with that start (one
//! wake-up of the loop per task), reads result and metrics files itself,
//! and, while its attempt runs, makes the task folder of an attempt still in the queue (which any
//! worker may take: one running for hours holds nothing back).
//!
//! Why threads: starting a process blocks its starter until the child has executed its program
//! (`posix_spawn` shares memory with the child until then). With the loop as the only starter,
//! every task's start waited for that, and on 2 cores the loop stood between each task's end and
//! the next one's start (`bench/compare.sh` measures the difference).
//!
//! The loop counts every attempt it hands over until a worker reports how it went: started then
//! ended, not started, handed back (the run is stopping), or its number already taken. That
//! count, not the threads, says when the run is drained.

use super::attempt::{self, Context, Request};
use super::devices::Grant;
use super::ending::Output;
use super::placement::Placement;
use super::queue::Queue;
use super::wake::Waker;
use super::Event;
use crate::exec::leftovers;
use crate::exec::process::{self, Exit};
use crate::exec::tree_usage::TreeUsage;
use crate::provenance::attempt_end::{AttemptFacts, Ended};
use std::io::ErrorKind;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

/// An attempt a worker started, and where it leaves its output.
struct Watch {
    pid: u32,
    result: PathBuf,
    metrics: PathBuf,
    /// For the attempt's error or artifacts (issue 12).
    index: usize,
    attempt: u32,
    stdout: PathBuf,
    stderr: PathBuf,
    task_dir: PathBuf,
    /// What its process tree used, once it ended.
    usage: TreeUsage,
    /// The GPUs it holds, given back once its process is reaped.
    devices: Option<Grant>,
}

/// One worker: runs attempts from `queue` one at a time until it is closed, and reports each to
/// the loop. Reports cannot fail while the loop runs (it holds the receiving end). If the worker
/// panics, the run is aborted (its attempt could never be reported, and the loop would wait).
/// `slot` is the worker's slot, 1 to the number of workers ([`crate::protocol::SLOT`]).
pub(super) fn work(ctx: &Context, queue: &Queue, loop_: &Waker, slot: usize) {
    let worked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        work_on(ctx, queue, loop_, slot)
    }));
    if worked.is_err() {
        queue.abort();
        let _ = loop_.send([Event::Broken("worker")]);
    }
}

fn work_on(ctx: &Context, queue: &Queue, loop_: &Waker, slot: usize) {
    // The attempt that ended last, reported once the next one has started.
    let mut ended: Option<(Watch, Exit, bool)> = None;
    loop {
        let job = match queue.try_pop() {
            Some(job) => job,
            None => {
                // Nothing to start first: report now, the loop may be waiting for it to hand more.
                if let Some((watch, exit, lingering)) = ended.take() {
                    let _ = loop_.send([end(ctx, watch, exit, lingering)]);
                }
                match queue.pop() {
                    Some(job) => job,
                    None => return,
                }
            }
        };
        // The devices it needs. When they are not free at once, the end not reported yet goes
        // first: it would wait as long as the devices do (and the loop needs a lingering
        // group's end to put it on the leak schedule, which frees the devices it holds).
        let grant = match &queue.devices {
            None => None,
            Some(pool) => {
                let stage = ctx.plan.tasks[job.index].stage;
                let grant = pool.try_take(stage).or_else(|| {
                    if let Some((watch, exit, lingering)) = ended.take() {
                        let _ = loop_.send([end(ctx, watch, exit, lingering)]);
                    }
                    pool.take(stage, &queue.stopping)
                });
                if grant.is_none() {
                    // The run is stopping.
                    let _ = loop_.send([Event::Returned(Box::new(job))]);
                    continue;
                }
                grant
            }
        };
        let (started, news) = start(ctx, queue, job, slot, grant);
        let previous = ended.take();
        let Some(mut watch) = started else {
            let previous =
                previous.map(|(watch, exit, lingering)| end(ctx, watch, exit, lingering));
            let _ = loop_.send(std::iter::once(news).chain(previous));
            continue;
        };
        queue.watch(watch.pid);
        ctx.sampler.watch(watch.pid);
        // Read after the spawn: the peak the task's `wait4` figure got from the runner.
        let spawner_peak = process::own_peak_rss_kb();
        // The start and the previous end reach the loop together: one wake-up for both (two
        // per task woke the loop twice as often, each a context switch on cores the tasks
        // need). The start waits only for the small files read here; big ones are read beside
        // the wait, and the start goes at once.
        let left = previous.as_ref().map(|p| output_left(ctx, &p.0));
        let previous = match (previous, left) {
            (Some((watch, exit, lingering)), Some((size, none))) if size <= BIG_OUTPUT => {
                let _ = loop_.send([news, end_read(ctx, watch, exit, lingering, none)]);
                None
            }
            (previous, _) => {
                let _ = loop_.send([news]);
                previous
            }
        };
        let (exit, lingering) = std::thread::scope(|scope| {
            if let Some(previous) = previous {
                read_beside(ctx, loop_, scope, previous);
            }
            if let Some(dir) = queue.folder_to_make() {
                // A failure is found again, and reported, when that attempt starts.
                let _ = ctx.dir.make_dir(&dir);
            }
            let exit = process::wait(watch.pid).without_spawner_peak(spawner_peak);
            // Looked at once reaped: a group with processes left keeps its id (issue 9).
            (exit, leftovers::group_alive(watch.pid))
        });
        queue.unwatch(watch.pid);
        if let (Some(pool), Some(grant)) = (&queue.devices, watch.devices.take()) {
            pool.give_back(grant, lingering.then_some(watch.pid));
        }
        watch.usage = ctx.sampler.finish(watch.pid);
        ended = Some((watch, exit, lingering));
    }
}

/// Files bigger than this together are read beside the wait for the next attempt, not before.
const BIG_OUTPUT: u64 = 1 << 20;

/// How many bytes the ended attempt's result and metrics files hold, and whether it left neither.
fn output_left(ctx: &Context, watch: &Watch) -> (u64, bool) {
    ctx.dir.sizes(&[&watch.result, &watch.metrics])
}

/// Reports the `ended` attempt, whose files are big, while the caller waits for the one it just
/// started: read in a thread of their own (up to the read limits: a large metrics stream takes a
/// while to parse). Read before the wait, they would delay it, and an attempt that ended
/// meanwhile would be seen ended late, its time and end time counting the read, and a stop that
/// came during the read would count it as interrupted (issue 9).
fn read_beside<'scope, 'env>(
    ctx: &'env Context,
    loop_: &'env Waker,
    scope: &'scope std::thread::Scope<'scope, 'env>,
    ended: (Watch, Exit, bool),
) {
    // Handed over once the thread exists: if none can be had, it is read here, late.
    let (hand, take) = std::sync::mpsc::sync_channel::<(Watch, Exit, bool)>(1);
    let spawned = std::thread::Builder::new()
        .name("reader".into())
        .spawn_scoped(scope, move || {
            if let Ok((watch, exit, lingering)) = take.recv() {
                let _ = loop_.send([end(ctx, watch, exit, lingering)]);
            }
        });
    if spawned.is_ok() {
        let _ = hand.send(ended);
        return;
    }
    let (watch, exit, lingering) = ended;
    let _ = loop_.send([end(ctx, watch, exit, lingering)]);
}

/// Starts `job` in worker slot `slot`, with the devices granted, unless the run is stopping or
/// its number is taken; the news for the loop.
fn start(
    ctx: &Context,
    queue: &Queue,
    job: Request,
    slot: usize,
    grant: Option<Grant>,
) -> (Option<Watch>, Event) {
    let (watch, news) = if queue.stopping.load(Ordering::SeqCst) {
        (None, Event::Returned(Box::new(job)))
    } else {
        start_with(ctx, job, slot, grant.as_ref())
    };
    match (&queue.devices, grant) {
        (Some(pool), Some(grant)) => match watch {
            Some(mut watch) => {
                pool.started(watch.pid);
                watch.devices = Some(grant);
                (Some(watch), news)
            }
            None => {
                pool.give_back(grant, None);
                (None, news)
            }
        },
        _ => (watch, news),
    }
}

fn start_with(
    ctx: &Context,
    job: Request,
    slot: usize,
    grant: Option<&Grant>,
) -> (Option<Watch>, Event) {
    // The store moved or deleted since it was opened: the attempt does not start (a launch
    // without logs fails), and its record, which the store refuses, ends the run.
    let logs = match ctx.watch.check() {
        Err(gone) => Err(std::io::Error::other(gone.to_string())),
        Ok(()) => match attempt::create_logs(&job.files, ctx.dir) {
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                return (None, Event::Taken(Box::new(job)));
            }
            logs => logs,
        },
    };
    let task_dir = job.task_dir.clone();
    let placement = Placement {
        slot,
        devices: grant.map(|g| g.visible.as_str()),
    };
    match attempt::launch(ctx, job, logs, &placement) {
        Ok(r) => {
            let watch = Watch {
                pid: r.pid,
                result: r.files.result.clone(),
                metrics: r.files.metrics.clone(),
                index: r.index,
                attempt: r.attempt,
                stdout: r.files.stdout.clone(),
                stderr: r.files.stderr.clone(),
                task_dir,
                usage: TreeUsage::default(),
                devices: None,
            };
            (Some(watch), Event::Started(Box::new(r)))
        }
        Err(failed) => (None, Event::NotStarted(failed)),
    }
}

/// Removes the ended attempt's task folder if it is empty and the run removes empty ones (issue
/// 15: a task that keeps nothing leaves no folder). Whether the folder stays because it holds
/// something, which the run records. The removal needs no record first: a folder removed just
/// before a crash was empty, and the next attempt makes it again.
fn tidy_task_dir(ctx: &Context, task_dir: &std::path::Path) -> bool {
    ctx.tidy_task_dirs && !ctx.dir.remove_dir_if_empty(task_dir).unwrap_or(true)
}

/// Reads what an ended attempt left: the news of its end. Read here, not in the loop: the loop
/// stays out of the folders the workers write in.
fn end(ctx: &Context, watch: Watch, exit: Exit, lingering: bool) -> Event {
    let (_, none_left) = output_left(ctx, &watch);
    end_read(ctx, watch, exit, lingering, none_left)
}

/// [`end`], once whether the attempt left neither output file is known: then neither is opened
/// (most attempts leave none; one lookup each, not three).
fn end_read(ctx: &Context, watch: Watch, exit: Exit, lingering: bool, none_left: bool) -> Event {
    let mut output = match none_left {
        true => Output::none(),
        false => Output::read(ctx.dir, &watch.result, &watch.metrics, exit.code == Some(0)),
    };
    let stage = &ctx.spec.stages[ctx.plan.tasks[watch.index].stage];
    let result = output.result.as_ref().ok().and_then(|r| r.as_deref());
    output.facts = Box::new(AttemptFacts::read(&Ended {
        stage,
        archive: &ctx.spec.archive,
        task_dir: &watch.task_dir,
        stderr: &watch.stderr,
        attempt: watch.attempt,
        succeeded: exit.code == Some(0) && output.result.is_ok(),
        metrics: &output.metrics,
        result,
    }));
    // What the attempt leaves is tidied only when nothing it started is left to write there.
    if !lingering {
        output.logs_to_tidy = vec![watch.stdout, watch.stderr];
        output.kept_task_dir = tidy_task_dir(ctx, &watch.task_dir);
    }
    Event::Ended {
        pid: watch.pid,
        exit,
        usage: Box::new(watch.usage),
        output,
        lingering,
    }
}
