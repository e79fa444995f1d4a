//! The local runner: dispatches ready tasks to a pool of worker slots, records every state
//! change durably before reporting it, applies the policy, and stops cleanly on signals.
//!
//! Each loop turn handles whatever has happened (exits, signals, time limits), starts what may
//! start, then commits all of it in one transaction, and only then reports it: a crash at any
//! point loses at most work that was never reported as done.

pub(crate) mod attempt;
mod graph;
mod recover;

pub use recover::{recover, Recovery};

use crate::exec::local::{self, AttemptFiles, Exit};
use crate::plan::Plan;
use crate::policy::{self, Decision, Outcome};
use crate::report::{Counts, Reporter};
use crate::spec::{format_duration, Spec};
use crate::store::{now, Change, Store, StoreError, TaskState};
use attempt::Running;
use graph::Graph;
use nix::sys::signal::Signal;
use std::collections::{BTreeMap, HashMap};
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
    Exit(u64, Exit),
    Signal(i32),
}

impl From<(u64, Exit)> for Event {
    fn from((token, exit): (u64, Exit)) -> Event {
        Event::Exit(token, exit)
    }
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
    let mut running: HashMap<u64, Running> = HashMap::new();
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
    let mut next_token = 0u64;
    let mut stopping: Option<i32> = None;
    let mut last_commit = Instant::now();

    loop {
        // Start what may start.
        while stopping.is_none() && running.len() < cfg.workers {
            let Some(i) = books.graph.ready.pop_front() else {
                break;
            };
            let task = &plan.tasks[i];
            attempts[i] += 1;
            books.tries[i] += 1;
            next_token += 1;
            let task_dir = store.task_dir(run, &task.key);
            // A folder for this attempt number already exists: an earlier runner started this
            // attempt and died before recording it. Record it, and give this attempt a new number.
            while AttemptFiles::new(&task_dir, attempts[i]).dir.exists() {
                books
                    .changes
                    .extend(attempt::unrecorded_start(&task.key, &task_dir, attempts[i]));
                attempts[i] += 1;
            }
            let launched = attempt::launch(
                spec,
                task,
                i,
                run,
                store.dir(),
                &base,
                &task_dir,
                attempts[i],
                next_token,
                tx.clone(),
            );
            match launched {
                Ok(r) => {
                    books.changes.push(r.started_change(&task.key));
                    running.insert(next_token, r);
                    if rep.wants_start_lines() {
                        books.lines.push(format!(
                            "▶ {} (attempt {})",
                            task.label(spec),
                            attempts[i]
                        ));
                    }
                }
                Err(failed) => {
                    let (r, e) = *failed;
                    books.changes.push(r.started_change(&task.key));
                    let exit = Exit {
                        code: None,
                        signal: None,
                        max_rss_kb: 0,
                        user_cpu_s: 0.0,
                        sys_cpu_s: 0.0,
                    };
                    let reason = format!("could not start: {e}");
                    books.finish(i, &r, exit, Outcome::Failed, Some(reason));
                }
            }
        }
        books.counts.running = running.len() as u64;

        // Make it durable, then tell. Changes of one commit window share a transaction (group
        // commit): each stays atomic, none is reported before it is on disk, and dispatching never
        // waits for an fsync.
        let idle = books.graph.ready.is_empty() && books.delayed.is_empty();
        let finishing = running.is_empty() && (idle || stopping.is_some());
        if !books.changes.is_empty()
            && (finishing || stopping.is_some() || last_commit.elapsed() >= COMMIT_WINDOW)
        {
            store.apply(run, &books.changes)?;
            books.changes.clear();
            last_commit = Instant::now();
            for l in books.lines.drain(..) {
                rep.line(&l);
            }
            rep.counts(books.counts);
        }
        if finishing {
            break;
        }

        // Wait for the next thing to happen.
        let now_i = Instant::now();
        let mut wake = now_i + Duration::from_secs(1);
        for r in running.values() {
            for t in [r.deadline, r.kill_at].into_iter().flatten() {
                wake = wake.min(t);
            }
        }
        if stopping.is_none() {
            if let Some((&(t, _), _)) = books.delayed.first_key_value() {
                wake = wake.min(t);
            }
        }
        if !books.changes.is_empty() {
            wake = wake.min(last_commit + COMMIT_WINDOW);
        }
        let mut events = Vec::new();
        match rx.recv_timeout(wake.saturating_duration_since(now_i)) {
            Ok(ev) => events.push(ev),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => unreachable!("the loop holds a sender"),
        }
        events.extend(rx.try_iter());

        for ev in events {
            match ev {
                Event::Exit(token, exit) => {
                    let Some(r) = running.remove(&token) else {
                        continue;
                    };
                    let (outcome, reason) = attempt::classify(&r, &exit, stopping.is_some());
                    books.finish(r.index, &r, exit, outcome, reason);
                }
                Event::Signal(sig) => {
                    let name = Signal::try_from(sig)
                        .map(|s| s.as_str())
                        .unwrap_or("signal");
                    if stopping.is_none() {
                        stopping = Some(sig);
                        books.report.stopped_by = Some(sig);
                        rep.always(&format!(
                            "labtrail: {name} received: no new tasks; stopping {} running task(s) (SIGTERM, then SIGKILL after {}). Press Ctrl+C again to kill them now.",
                            running.len(),
                            format_duration(cfg.grace)
                        ));
                        books.changes.push(Change::Note {
                            kind: "stop_requested".into(),
                            detail: format!("{name}; {} running", running.len()),
                        });
                        let kill_at = Instant::now() + cfg.grace;
                        for r in running.values_mut() {
                            local::signal_group(r.pid, Signal::SIGTERM);
                            r.kill_at = Some(r.kill_at.map_or(kill_at, |k| k.min(kill_at)));
                        }
                    } else {
                        rep.always(&format!(
                            "labtrail: second {name}: killing {} running task(s) now",
                            running.len()
                        ));
                        for r in running.values_mut() {
                            local::signal_group(r.pid, Signal::SIGKILL);
                            r.kill_at = None;
                        }
                    }
                }
            }
        }

        // Time limits and grace periods.
        let now_i = Instant::now();
        for r in running.values_mut() {
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
    signals.close();
    books.report.interrupted += books.delayed.len() as u64;
    rep.finish();
    Ok(books.report)
}

/// What the loop keeps between turns, besides the processes in flight.
struct Books<'a> {
    spec: &'a Spec,
    plan: &'a Plan,
    /// Attempts of each task in this invocation (retries are counted against the policy).
    tries: Vec<u32>,
    graph: Graph,
    /// Retries waiting for their backoff, by due time.
    delayed: BTreeMap<(Instant, usize), ()>,
    /// Changes of the current commit window, and the lines that report them.
    changes: Vec<Change>,
    lines: Vec<String>,
    report: RunReport,
    counts: Counts,
}

impl Books<'_> {
    /// Applies the policy to an ended attempt and queues the resulting changes and report lines.
    fn finish(
        &mut self,
        i: usize,
        r: &Running,
        exit: Exit,
        outcome: Outcome,
        reason: Option<String>,
    ) {
        let (spec, plan) = (self.spec, self.plan);
        let Books {
            tries,
            graph,
            delayed,
            changes,
            lines,
            report,
            counts,
            ..
        } = self;
        let task = &plan.tasks[i];
        let stage = &spec.stages[task.stage];
        let (outcome, reason, result) = match outcome {
            Outcome::Success => match attempt::read_result(&r.files.result) {
                Ok(result) => (Outcome::Success, None, result),
                Err(why) => (Outcome::Failed, Some(why), None),
            },
            other => (other, reason, None),
        };
        let decision = policy::decide(&outcome, tries[i], stage.retries, spec.run.backoff);
        let label = task.label(spec);
        let took = format_duration(r.started.elapsed());
        let why = reason.clone().unwrap_or_default();
        let state = match &decision {
            Decision::Done => {
                graph.done(i);
                report.done += 1;
                counts.done += 1;
                lines.push(format!("✓ {label} ({took})"));
                TaskState::Done
            }
            Decision::Retry(after) => {
                delayed.insert((Instant::now() + *after, i), ());
                lines.push(format!(
                    "↻ {label}: {why} (attempt {}); retry {} of {} in {}; log: {}",
                    r.attempt,
                    tries[i],
                    stage.retries,
                    format_duration(*after),
                    r.files.stderr.display()
                ));
                TaskState::Pending
            }
            Decision::Fail => {
                report.failed += 1;
                counts.failed += 1;
                lines.push(format!(
                    "✗ {label}: {why} (attempt {}); log: {}",
                    r.attempt,
                    r.files.stderr.display()
                ));
                for d in graph.downstream(i) {
                    let reason = format!("upstream task {} failed", label);
                    changes.push(Change::Blocked {
                        key: plan.tasks[d].key.clone(),
                        reason,
                    });
                    report.blocked += 1;
                    lines.push(format!(
                        "⊘ {}: blocked, upstream {label} failed",
                        plan.tasks[d].label(spec)
                    ));
                }
                TaskState::Failed
            }
            Decision::Interrupted => {
                report.interrupted += 1;
                lines.push(format!("⏸ {label}: interrupted, will run again on resume"));
                TaskState::Interrupted
            }
        };
        report.ran += 1;
        changes.push(Change::Finished {
            key: task.key.clone(),
            attempt: r.attempt,
            ended_at: now(),
            exit_code: exit.code,
            signal: exit.signal,
            outcome: outcome.as_str().to_string(),
            reason,
            state,
            result,
            max_rss_kb: (exit.max_rss_kb > 0).then_some(exit.max_rss_kb),
            user_cpu_s: Some(exit.user_cpu_s),
            sys_cpu_s: Some(exit.sys_cpu_s),
            metrics: attempt::read_metrics(&r.files.metrics),
        });
    }
}

/// The folder tasks run in: the stage's workdir relative to the experiment file's folder.
pub fn workdir(base: &std::path::Path, stage_workdir: &str) -> PathBuf {
    base.join(stage_workdir)
}
