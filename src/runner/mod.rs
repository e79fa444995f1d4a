//! The local runner: dispatches ready tasks to a pool of worker slots, records every state
//! change durably before reporting it, applies the policy, and stops cleanly on signals.
//!
//! Each loop turn handles whatever has happened (exits, signals, time limits) and starts what may
//! start. The changes it makes are committed by a writer thread, one transaction per commit window
//! (group commit), and reported only once that transaction is durable: a crash at any point loses
//! at most work that was never reported as done, and dispatching never waits for an fsync.

pub(crate) mod attempt;
mod books;
mod graph;
mod launcher;
mod recover;

pub use recover::{recover, Recovery};

use crate::exec::local::{self, AttemptFiles, Exit};
use crate::plan::Plan;
use crate::policy::Outcome;
use crate::report::{Counts, Reporter};
use crate::spec::{format_duration, Spec};
use crate::store::{Change, Store, StoreError, TaskState};
use attempt::Running;
use books::Books;
use graph::Graph;
use nix::sys::signal::Signal;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Longest time a finished attempt waits for its commit (and so for being reported).
const COMMIT_WINDOW: Duration = Duration::from_millis(50);

/// Settings of one invocation.
pub struct RunConfig {
    pub workers: usize,
    pub grace: Duration,
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

/// Events the loop waits for.
pub(crate) enum Event {
    /// SIGCHLD: some child ended (one signal may stand for several).
    ChildEnded,
    /// A launcher started an attempt (or could not).
    Launched(launcher::Launched),
    Signal(i32),
    /// The writer thread committed the batch in flight (or failed to).
    Committed(Result<(), StoreError>),
}

/// A batch the writer thread is committing: what to report once it is durable.
struct InFlight {
    lines: Vec<String>,
    counts: Counts,
}

/// Runs every task of `plan` that is not done, in run `run`.
pub fn execute(
    store: &mut Store,
    run: &str,
    spec: &Spec,
    plan: &Plan,
    cfg: &RunConfig,
    rep: &Reporter,
) -> Result<RunReport, StoreError> {
    let states = store.task_states(run)?;
    let state_of = |k: &str| states.get(k).map_or(TaskState::Pending, |s| s.0);
    let (graph, skipped) = Graph::new(plan, state_of);
    let mut attempts: Vec<u32> = plan
        .tasks
        .iter()
        .map(|t| states.get(&t.key).map_or(0, |s| s.1))
        .collect();
    drop(states);
    let base = std::fs::canonicalize(spec.base_dir()).unwrap_or_else(|_| spec.base_dir());
    let (tx, rx) = mpsc::channel::<Event>();
    let signals =
        attempt::forward_signals(tx.clone()).map_err(|e| StoreError::io(store.dir(), e))?;

    let report = RunReport {
        total: plan.tasks.len() as u64,
        skipped: skipped as u64,
        ..Default::default()
    };
    let counts = Counts {
        total: report.total,
        done: skipped as u64,
        ..Default::default()
    };
    let store_dir = store.dir().to_path_buf();
    let tasks_root = store.run_dir(run).join("tasks");
    let attempts_root = store.run_dir(run).join("attempts");
    for dir in [&tasks_root, &attempts_root] {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
    }
    let mut books = Books {
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
    let (to_writer, batches) = mpsc::channel::<Vec<Change>>();
    let committed = tx.clone();
    // The launchers: they start attempts, the loop waits for none of them.
    let ctx = launcher::Context {
        spec,
        plan,
        run,
        store_dir: &store_dir,
        base: &base,
    };
    let (to_launchers, requests) = mpsc::channel::<launcher::Request>();
    let requests = std::sync::Mutex::new(requests);
    let outcome = std::thread::scope(|scope| {
        let to_launchers = to_launchers;
        std::thread::Builder::new()
            .name("commit".into())
            .spawn_scoped(scope, move || {
                for changes in batches {
                    let r = store.apply(run, &changes);
                    let failed = r.is_err();
                    if committed.send(Event::Committed(r)).is_err() || failed {
                        break;
                    }
                }
            })
            .map_err(|e| StoreError::io(&store_dir, e))?;
        let to_writer = to_writer;
        for n in 0..launcher::count(cfg.workers) {
            let (ctx, requests, events) = (&ctx, &requests, tx.clone());
            std::thread::Builder::new()
                .name(format!("launch-{n}"))
                .spawn_scoped(scope, move || launcher::serve(ctx, requests, events))
                .map_err(|e| StoreError::io(&store_dir, e))?;
        }
        let mut running: Vec<Running> = Vec::new();
        // Attempts handed to a launcher and not back yet: they hold a worker slot.
        let mut launching = 0usize;
        // When running tasks are killed if the run is stopping (a late start gets the same).
        let mut stop_kill_at: Option<Instant> = None;
        let mut stopping: Option<i32> = None;
        let mut in_flight: Option<InFlight> = None;
        let mut last_commit = Instant::now();
        loop {
            // Start what may start.
            while stopping.is_none() && running.len() + launching < cfg.workers {
                let Some(i) = books.graph.ready.pop_front() else {
                    break;
                };
                let task = &plan.tasks[i];
                attempts[i] += 1;
                books.tries[i] += 1;
                let attempt_prefix = attempts_root.join(&task.key);
                // A log of this attempt number already exists: an earlier runner started this
                // attempt and died before recording it. Record it, and give it a new number.
                while AttemptFiles::new(&attempt_prefix, attempts[i])
                    .stdout
                    .exists()
                {
                    books.changes.extend(attempt::unrecorded_start(
                        &task.key,
                        &attempt_prefix,
                        attempts[i],
                    ));
                    books.lines.push(format!(
                        "⏸ {}: attempt {} was started by a runner that stopped before recording it; counted as interrupted",
                        task.label(spec),
                        attempts[i]
                    ));
                    attempts[i] += 1;
                }
                let request = launcher::Request {
                    index: i,
                    attempt: attempts[i],
                    task_dir: tasks_root.join(&task.key),
                    attempt_prefix,
                };
                if to_launchers.send(request).is_err() {
                    unreachable!("launchers stop only when the loop drops their channel");
                }
                launching += 1;
            }
            books.counts.running = (running.len() + launching) as u64;

            // Hand the window's changes to the writer; they are reported once durable. While a commit
            // is in flight the next batch grows: one fsync covers everything that happened meanwhile.
            let idle = books.graph.ready.is_empty() && books.delayed.is_empty();
            let drained = running.is_empty() && launching == 0 && (idle || stopping.is_some());
            if in_flight.is_none()
                && !books.changes.is_empty()
                && (drained || stopping.is_some() || last_commit.elapsed() >= COMMIT_WINDOW)
            {
                in_flight = Some(InFlight {
                    lines: std::mem::take(&mut books.lines),
                    counts: books.counts,
                });
                if to_writer.send(std::mem::take(&mut books.changes)).is_err() {
                    // The writer only stops after reporting an error, which ends the loop first.
                    unreachable!("the writer thread stopped without reporting why");
                }
            }
            if drained && in_flight.is_none() && books.changes.is_empty() {
                break;
            }

            // Wait for the next thing to happen.
            let now_i = Instant::now();
            let mut wake = now_i + Duration::from_secs(1);
            for r in running.iter() {
                for t in [r.deadline, r.kill_at].into_iter().flatten() {
                    wake = wake.min(t);
                }
            }
            if stopping.is_none() {
                if let Some((&(t, _), _)) = books.delayed.first_key_value() {
                    wake = wake.min(t);
                }
            }
            if in_flight.is_none() && !books.changes.is_empty() {
                wake = wake.min(last_commit + COMMIT_WINDOW);
            }
            let mut events = Vec::new();
            // A timeout also looks for ended children: a lost SIGCHLD delays an exit by a second
            // at most.
            let mut reap = match rx.recv_timeout(wake.saturating_duration_since(now_i)) {
                Ok(ev) => {
                    events.push(ev);
                    false
                }
                Err(mpsc::RecvTimeoutError::Timeout) => true,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    unreachable!("the loop holds a sender")
                }
            };
            events.extend(rx.try_iter());

            for ev in events {
                match ev {
                    Event::ChildEnded => reap = true,
                    Event::Launched(launched) => {
                        launching -= 1;
                        // Its SIGCHLD may have come before it joined `running`.
                        reap = true;
                        match launched {
                            Ok(mut r) => {
                                let task = &plan.tasks[r.index];
                                books.changes.push(r.started_change(&task.key));
                                if stopping.is_some() {
                                    local::signal_group(r.pid, Signal::SIGTERM);
                                    r.kill_at = stop_kill_at;
                                }
                                if rep.wants_start_lines() {
                                    books.lines.push(format!(
                                        "▶ {} (attempt {})",
                                        task.label(spec),
                                        r.attempt
                                    ));
                                }
                                running.push(r);
                            }
                            Err(failed) => {
                                let (r, e) = *failed;
                                let task = &plan.tasks[r.index];
                                books.changes.push(r.started_change(&task.key));
                                let exit = Exit {
                                    code: None,
                                    signal: None,
                                    max_rss_kb: 0,
                                    user_cpu_s: 0.0,
                                    sys_cpu_s: 0.0,
                                };
                                let reason = format!("could not start: {e}");
                                books.finish(r.index, &r, exit, Outcome::Failed, Some(reason));
                            }
                        }
                    }
                    Event::Committed(Ok(())) => {
                        let done = in_flight.take().expect("a commit was in flight");
                        last_commit = Instant::now();
                        for l in &done.lines {
                            rep.line(l);
                        }
                        rep.counts(done.counts);
                    }
                    Event::Committed(Err(e)) => return Err(e),
                    Event::Signal(sig) => {
                        let name = Signal::try_from(sig)
                            .map(|s| s.as_str())
                            .unwrap_or("signal");
                        if stopping.is_none() {
                            stopping = Some(sig);
                            books.report.stopped_by = Some(sig);
                            rep.always(&format!(
                                "labtrail: {name} received: no new tasks; stopping {} running task(s) (SIGTERM, then SIGKILL after {}). Press Ctrl+C again to kill them now.",
                                running.len() + launching,
                                format_duration(cfg.grace)
                            ));
                            books.changes.push(Change::Note {
                                kind: "stop_requested".into(),
                                detail: format!("{name}; {} running", running.len() + launching),
                            });
                            let kill_at = Instant::now() + cfg.grace;
                            stop_kill_at = Some(kill_at);
                            for r in running.iter_mut() {
                                local::signal_group(r.pid, Signal::SIGTERM);
                                r.kill_at = Some(r.kill_at.map_or(kill_at, |k| k.min(kill_at)));
                            }
                        } else {
                            rep.always(&format!(
                                "labtrail: second {name}: killing {} running task(s) now",
                                running.len() + launching
                            ));
                            for r in running.iter_mut() {
                                local::signal_group(r.pid, Signal::SIGKILL);
                                r.kill_at = None;
                            }
                            stop_kill_at = Some(Instant::now());
                        }
                    }
                }
            }

            if reap {
                let mut k = 0;
                while k < running.len() {
                    let Some(exit) = local::try_reap(running[k].pid) else {
                        k += 1;
                        continue;
                    };
                    let r = running.swap_remove(k);
                    let (outcome, reason) = attempt::classify(&r, &exit, stopping.is_some());
                    books.finish(r.index, &r, exit, outcome, reason);
                }
            }

            // Time limits and grace periods.
            let now_i = Instant::now();
            for r in running.iter_mut() {
                if r.deadline.is_some_and(|d| d <= now_i) {
                    r.deadline = None;
                    r.timed_out = true;
                    local::signal_group(r.pid, Signal::SIGTERM);
                    r.kill_at = Some(now_i + cfg.grace);
                } else if r.kill_at.is_some_and(|k| k <= now_i) {
                    r.kill_at = None;
                    local::signal_group(r.pid, Signal::SIGKILL);
                }
            }
            if stopping.is_none() {
                while let Some((&(t, i), _)) = books.delayed.first_key_value() {
                    if t > now_i {
                        break;
                    }
                    books.delayed.remove(&(t, i));
                    books.graph.ready.push_back(i);
                }
            }
        }
        Ok(())
    });
    signals.close();
    outcome?;
    books.report.interrupted += books.delayed.len() as u64;
    rep.finish();
    Ok(books.report)
}

/// The folder tasks run in: the stage's workdir relative to the experiment file's folder.
pub fn workdir(base: &std::path::Path, stage_workdir: &str) -> PathBuf {
    base.join(stage_workdir)
}
